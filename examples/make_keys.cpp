// make_keys: creates a keyring file with one fresh key per name.
//   make_keys FILE NAME...
// The file is written with mode 0600. (The `mqseal keygen` command line tool
// will do this and more; this example shows the three calls it takes.)
#include <mqseal/keyring.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_keys FILE NAME...\n");
    return 2;
  }
  mqseal::Keyring keys;
  for (int i = 2; i < argc; ++i) {
    if (auto id = keys.generate(argv[i]); !id) {
      std::fprintf(stderr, "make_keys: %s: %s\n", argv[i], id.error().message().c_str());
      return 1;
    }
  }
  if (mqseal::Status saved = keys.save(argv[1]); !saved) {
    std::fprintf(stderr, "make_keys: %s\n", saved.error().message().c_str());
    return 1;
  }
  return 0;
}
