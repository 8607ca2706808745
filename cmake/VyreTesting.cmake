# Test settings shared by c_tests/ and examples/ (included by the top-level
# CMakeLists.txt when VYRE_BUILD_TESTS is ON).
include(CheckCSourceCompiles)

set(VYRE_TEST_TIMEOUT 300 CACHE STRING "Seconds each plain or sanitizer C test may run")
set(VYRE_TEST_VALGRIND_TIMEOUT 900 CACHE STRING "Seconds each valgrind C test may run")

# -------------------------------------------------------------- valgrind
find_program(VALGRIND_EXECUTABLE valgrind DOC "valgrind, for the *_valgrind tests")
if(VALGRIND_EXECUTABLE)
    set(_vyre_valgrind_default ON)
else()
    set(_vyre_valgrind_default OFF)
endif()
option(VYRE_TEST_VALGRIND "Register a *_valgrind variant of every C test" ${_vyre_valgrind_default})
if(VYRE_TEST_VALGRIND AND NOT VALGRIND_EXECUTABLE)
    message(FATAL_ERROR "VYRE_TEST_VALGRIND is ON but valgrind was not found")
endif()
set(VYRE_VALGRIND_ARGS
    --tool=memcheck
    --error-exitcode=1
    --leak-check=full
    --errors-for-leak-kinds=definite
    --show-leak-kinds=definite
    # Worker threads that poll would starve each other under valgrind's
    # default (unfair) thread lock.
    --fair-sched=yes
    --num-callers=40
    "--suppressions=${PROJECT_SOURCE_DIR}/c_tests/valgrind.supp")

# ------------------------------------------------------------ sanitizers
set(VYRE_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=all)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=address,undefined")
set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=address,undefined")
check_c_source_compiles("int main(void) { return 0; }" VYRE_HAVE_ASAN_UBSAN)
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_LINK_OPTIONS)
option(VYRE_TEST_SANITIZERS "Register an *_asan (ASan + UBSan) variant of every C test"
       ${VYRE_HAVE_ASAN_UBSAN})
if(VYRE_TEST_SANITIZERS AND NOT VYRE_HAVE_ASAN_UBSAN)
    message(FATAL_ERROR "VYRE_TEST_SANITIZERS is ON but the compiler cannot link -fsanitize=address,undefined")
endif()
# libvyre.so itself is not instrumented; the instrumented test program loads
# the ASan runtime first, so the library's malloc/free are checked as well.
set(VYRE_ASAN_ENV
    "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
    "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/c_tests/lsan.supp:print_suppressions=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
