# Build-time step (cmake -P): writes OUTPUT, a .cc file defining conform::EmbeddedCatalogueText()
# with the text of INPUT (suites/clauses.json) as a raw string literal, from TEMPLATE.
# GCC and Clang take string literals of any length (the catalogue is about 40 KB; some other
# compilers stop at 64 KiB). A file that is not JSON fails the build here; the catalogue's own
# rules are checked by Catalogue::Parse and tests/catalogue_test.cc.
foreach(variable INPUT OUTPUT TEMPLATE)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "embed_catalogue.cmake: -D${variable}=... is required")
  endif()
endforeach()

file(READ "${INPUT}" NETNS_CONFORM_CATALOGUE_TEXT)
string(JSON catalogue_version ERROR_VARIABLE json_error
       GET "${NETNS_CONFORM_CATALOGUE_TEXT}" catalogue_version)
if(json_error)
  message(FATAL_ERROR "${INPUT}: not a clause catalogue: ${json_error}")
endif()
string(FIND "${NETNS_CONFORM_CATALOGUE_TEXT}" ")catalogue\"" delimiter_at)
if(NOT delimiter_at EQUAL -1)
  message(FATAL_ERROR "${INPUT} holds the raw-string delimiter )catalogue\"")
endif()

file(READ "${TEMPLATE}" template)
string(CONFIGURE "${template}" generated @ONLY)
# Always written, so that the output is newer than its inputs and the step does not rerun.
file(WRITE "${OUTPUT}" "${generated}")
