/* The version macros, the version functions and the Cargo version (passed in
 * by CMake as VYRE_EXPECTED_VERSION_*) must all agree. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <vyre.h>

#ifndef VYRE_EXPECTED_VERSION_MAJOR
#error "built without VYRE_EXPECTED_VERSION_* (c_tests/CMakeLists.txt passes them)"
#endif

int main(void)
{
    char expected[64];
    const char *version = vyre_version_string();

    /* Header macros == Cargo.toml. */
    assert(VYRE_VERSION_MAJOR == VYRE_EXPECTED_VERSION_MAJOR);
    assert(VYRE_VERSION_MINOR == VYRE_EXPECTED_VERSION_MINOR);
    assert(VYRE_VERSION_PATCH == VYRE_EXPECTED_VERSION_PATCH);

    /* Library functions == header macros (header and library match). */
    assert(vyre_version_major() == VYRE_VERSION_MAJOR);
    assert(vyre_version_minor() == VYRE_VERSION_MINOR);
    assert(vyre_version_patch() == VYRE_VERSION_PATCH);

    /* The string is exactly "MAJOR.MINOR.PATCH". */
    assert(version != NULL);
    snprintf(expected, sizeof expected, "%u.%u.%u", (unsigned)vyre_version_major(),
             (unsigned)vyre_version_minor(), (unsigned)vyre_version_patch());
    assert(strcmp(version, expected) == 0);
    assert(strcmp(version, VYRE_EXPECTED_VERSION_STRING) == 0);

    printf("libvyre %s (header %d.%d.%d)\n", version, (int)VYRE_VERSION_MAJOR,
           (int)VYRE_VERSION_MINOR, (int)VYRE_VERSION_PATCH);
    return 0;
}
