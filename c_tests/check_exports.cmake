# cmake -DLIBRARY=path/libvyre.so.X.Y.Z -DSONAME=libvyre.so.X -DNM=nm -DREADELF=readelf -P check_exports.cmake
#
# Checks that the shared library exports only vyre_* symbols (its dynamic
# symbol table, defined symbols only) and that its SONAME is SONAME.
foreach(_var LIBRARY SONAME NM READELF)
    if(NOT ${_var})
        message(FATAL_ERROR "check_exports.cmake: -D${_var}=... is required (nm/readelf missing?)")
    endif()
endforeach()
if(NOT EXISTS "${LIBRARY}")
    message(FATAL_ERROR "check_exports.cmake: ${LIBRARY} does not exist (build first)")
endif()

# ---- exported symbols
execute_process(
    COMMAND "${NM}" -D --defined-only "${LIBRARY}"
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _nm ERROR_VARIABLE _nm_err)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "nm -D --defined-only failed (${_rc}): ${_nm_err}")
endif()
string(REPLACE "\n" ";" _lines "${_nm}")
set(_exported "")
set(_leaked "")
foreach(_line IN LISTS _lines)
    # "<address> <type> <name>", the name possibly versioned (name@@VERSION).
    if(_line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) ([^ @]+)")
        set(_type "${CMAKE_MATCH_1}")
        set(_name "${CMAKE_MATCH_2}")
        # An absolute (A) symbol named after a version node is not a symbol
        # of the library's own.
        if(_type STREQUAL "A")
            continue()
        endif()
        if(_name MATCHES "^vyre_")
            list(APPEND _exported "${_name}")
        else()
            list(APPEND _leaked "${_type} ${_name}")
        endif()
    endif()
endforeach()
list(LENGTH _exported _n_exported)
if(_n_exported EQUAL 0)
    message(FATAL_ERROR "no vyre_* symbol is exported by ${LIBRARY}:\n${_nm}")
endif()
if(_leaked)
    string(REPLACE ";" "\n  " _leaked_text "${_leaked}")
    message(FATAL_ERROR "${LIBRARY} exports symbols outside the vyre_ namespace:\n  ${_leaked_text}")
endif()
message(STATUS "${_n_exported} exported symbols, all vyre_*")

# ---- SONAME
execute_process(
    COMMAND "${READELF}" -d "${LIBRARY}"
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _dyn ERROR_VARIABLE _dyn_err)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "readelf -d failed (${_rc}): ${_dyn_err}")
endif()
if(NOT _dyn MATCHES "\\(SONAME\\)[^\n]*\\[([^]]*)\\]")
    message(FATAL_ERROR "${LIBRARY} has no SONAME:\n${_dyn}")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL SONAME)
    message(FATAL_ERROR "SONAME is '${CMAKE_MATCH_1}', expected '${SONAME}'")
endif()
message(STATUS "SONAME ${CMAKE_MATCH_1}")
