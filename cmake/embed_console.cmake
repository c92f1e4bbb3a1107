# cmake/embed_console.cmake: turns every file of the operator console into a
# C array, written as one generated .c file with the table the server
# answers /console/ from. Run by the build (cmake -P), with:
#   -DCONSOLE_DIR=<the console/ folder>  -DOUT=<the .c file to write>
file(GLOB names RELATIVE "${CONSOLE_DIR}" "${CONSOLE_DIR}/*")
list(SORT names)
set(body "/* Generated from console/ by cmake/embed_console.cmake; do not edit. */\n")
string(APPEND body "#include \"app/app_int.h\"\n\n")
set(table "")
set(count 0)
foreach(name IN LISTS names)
  if(IS_DIRECTORY "${CONSOLE_DIR}/${name}" OR name MATCHES "^\\.")
    continue()
  endif()
  if(NOT name MATCHES "^[A-Za-z0-9_.-]+$")
    message(FATAL_ERROR "console/${name}: file names are [A-Za-z0-9_.-]")
  endif()
  file(READ "${CONSOLE_DIR}/${name}" hex HEX)
  string(LENGTH "${hex}" hex_len)
  math(EXPR len "${hex_len} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # one line per 16 bytes (80 characters)
  string(REPEAT "0x..," 16 line)
  string(REGEX REPLACE "(${line})" "\\1\n" bytes "${bytes}")
  string(APPEND body "static const unsigned char asset_${count}[] = {\n"
         "${bytes}0x00\n};\n\n")
  string(APPEND table "\t{ \"${name}\", asset_${count}, ${len} },\n")
  math(EXPR count "${count} + 1")
endforeach()
string(APPEND body "const struct app_console_asset app_console_assets[] = {\n"
       "${table}};\n\nconst size_t app_console_asset_count = ${count};\n")
# rewrite only on change, so an unchanged console recompiles nothing
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL body)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${body}")
