# Turns one OpenCL source into a C array so the binary runs from any folder.
# Inputs: SRC (the .cl file), DST (the .c file to write), NAME (C identifier).
file(READ "${SRC}" hex HEX)
string(LENGTH "${hex}" hexlen)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
math(EXPR n "${hexlen} / 2")
file(WRITE "${DST}" "/* generated from ${SRC}; do not edit */\n#include <stddef.h>\nconst unsigned char ${NAME}[] = {${bytes}0x00};\nconst size_t ${NAME}_len = ${n};\n")
