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

# The same for the Python block and examples/python/quickstart.py.
file(READ ${SOURCE_DIR}/examples/python/quickstart.py python_example)
string(REGEX MATCH "```python\n([^`]*)```" python_block "${readme}")
set(readme_python "${CMAKE_MATCH_1}")
string(REGEX MATCH "# --- README begins ---\n(.*)# --- README ends ---" marked_python "${python_example}")
if(NOT readme_python STREQUAL CMAKE_MATCH_1)
  message(FATAL_ERROR "README.md's Python example differs from examples/python/quickstart.py:\n"
                      "README:\n${readme_python}\nexample:\n${CMAKE_MATCH_1}")
endif()
