# Fails if the README's first C++ block is not, line for line, the code between
# the "README begins/ends" markers of examples/readme_example.cpp, which CI
# builds and runs: the README may not show code that does not compile.
file(READ ${SOURCE_DIR}/README.md readme)
file(READ ${SOURCE_DIR}/examples/readme_example.cpp example)
string(REGEX MATCH "```cpp\n([^`]*)```" block "${readme}")
set(readme_code "${CMAKE_MATCH_1}")
string(REGEX MATCH "// --- README begins ---\n(.*)  // --- README ends ---" marked "${example}")
string(REGEX REPLACE "(^|\n)  " "\\1" example_code "${CMAKE_MATCH_1}")
if(NOT readme_code STREQUAL example_code)
  message(FATAL_ERROR "README.md's first C++ example differs from examples/readme_example.cpp:\n"
                      "README:\n${readme_code}\nexample:\n${example_code}")
endif()

# The same for the Python examples: the README quotes each one's marked code,
# dedented by the markers' indentation, as a ```python block (quickstart.py is
# run by scripts/test, readme_paho.py and readme_aio.py against a real broker
# by tests/python/test_readme_examples.py).
foreach(python_file quickstart.py readme_paho.py readme_aio.py)
  file(READ ${SOURCE_DIR}/examples/python/${python_file} python_example)
  if(NOT python_example MATCHES "\n([ ]*)# --- README begins ---\n(.*)\n[ ]*# --- README ends ---")
    message(FATAL_ERROR "examples/python/${python_file} has no README begins/ends markers")
  endif()
  set(indent "${CMAKE_MATCH_1}")
  set(python_code "${CMAKE_MATCH_2}")
  if(indent)  # (no "^" in the pattern: REGEX REPLACE matches it again after each match)
    string(REPLACE "\n${indent}" "\n" python_code "\n${python_code}")
    string(SUBSTRING "${python_code}" 1 -1 python_code)
  endif()
  string(FIND "${readme}" "```python\n${python_code}\n```" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "README.md has no ```python block that is examples/python/${python_file}'s "
                        "marked code:\n${python_code}")
  endif()
endforeach()
