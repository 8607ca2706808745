# cmake -DHEADER=include/vyre.h -P check_header_names.cmake
#
# Every name include/vyre.h declares at file scope must be in libvyre's
# namespace: macros and enum constants VYRE_*, types, tags and functions
# vyre_*. cbindgen copies every `pub const` of the crate into the header, so
# an internal constant that is `pub` (not `pub(crate)`) shows up here.
if(NOT HEADER OR NOT EXISTS "${HEADER}")
    message(FATAL_ERROR "check_header_names.cmake: -DHEADER=<path to vyre.h> is required")
endif()

file(READ "${HEADER}" _text)
# Drop comments: /* ... */ (doc comments included), then // to end of line.
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" _text "${_text}")
string(REGEX REPLACE "//[^\n]*" "" _text "${_text}")
# Lines as a list (protect the list separator first).
string(REPLACE ";" "<semicolon>" _text "${_text}")
string(REPLACE "\n" ";" _lines "${_text}")

set(_bad "")
set(_count 0)
macro(_vyre_check name pattern what)
    math(EXPR _count "${_count} + 1")
    if(NOT "${name}" MATCHES "${pattern}")
        list(APPEND _bad "${what} ${name}")
    endif()
endmacro()

foreach(_line IN LISTS _lines)
    string(REPLACE "<semicolon>" ";" _line "${_line}")
    if(_line MATCHES "^#[ \t]*define[ \t]+([A-Za-z_][A-Za-z0-9_]*)")
        _vyre_check("${CMAKE_MATCH_1}" "^VYRE_" "macro")
    elseif(_line MATCHES "^#")
        # #include, #ifdef, #endif, ...
    elseif(_line MATCHES "^extern \"C\"")
    elseif(_line MATCHES "^(typedef[ \t]+)?(struct|union|enum)[ \t]+([A-Za-z_][A-Za-z0-9_]*)")
        _vyre_check("${CMAKE_MATCH_3}" "^vyre_" "tag")
        if(_line MATCHES "^typedef.*[ \t*]([A-Za-z_][A-Za-z0-9_]*)[ \t]*;[ \t]*$")
            _vyre_check("${CMAKE_MATCH_1}" "^vyre_" "type")
        endif()
    elseif(_line MATCHES "^typedef[^(]*\\([ \t]*\\*[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\\)[ \t]*\\(")
        # A function pointer type: `typedef int (*name)(params);`.
        _vyre_check("${CMAKE_MATCH_1}" "^vyre_" "type")
    elseif(_line MATCHES "^typedef.*[ \t*(]([A-Za-z_][A-Za-z0-9_]*)[ \t)]*(\\(.*\\))?[ \t]*;[ \t]*$")
        _vyre_check("${CMAKE_MATCH_1}" "^vyre_" "type")
    elseif(_line MATCHES "^}[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*;")
        _vyre_check("${CMAKE_MATCH_1}" "^vyre_" "type")
    elseif(_line MATCHES "^[A-Za-z_][A-Za-z0-9_ \t*]*[ \t*]([A-Za-z_][A-Za-z0-9_]*)[ \t]*\\(")
        # A function declaration starts at column 0: `type name(`.
        _vyre_check("${CMAKE_MATCH_1}" "^vyre_" "function")
    elseif(_line MATCHES "^extern[ \t].*[ \t*]([A-Za-z_][A-Za-z0-9_]*)[ \t]*(\\[[^]]*\\])?[ \t]*;")
        _vyre_check("${CMAKE_MATCH_1}" "^vyre_" "global")
    elseif(_line MATCHES "^[ \t]+([A-Z][A-Z0-9_]*)[ \t]*(=[^,]*)?,?[ \t]*$")
        # An enum constant (struct fields have a type before the name).
        _vyre_check("${CMAKE_MATCH_1}" "^VYRE_" "enum constant")
    endif()
endforeach()

if(_bad)
    list(REMOVE_DUPLICATES _bad)
    string(REPLACE ";" "\n  " _bad_text "${_bad}")
    message(FATAL_ERROR "${HEADER} declares names outside the vyre_/VYRE_ namespace:\n  ${_bad_text}\n"
        "Make the Rust item pub(crate), rename it, or list it under [export] exclude in cbindgen.toml.")
endif()
message(STATUS "${_count} names checked in ${HEADER}, all vyre_/VYRE_")
