/* A minimal user of an installed libvyre: checks the version and creates and
 * destroys a megakernel on the reference backend. */
#include <stdio.h>
#include <string.h>

#include <vyre.h>

#ifndef EXPECTED_VERSION
#error "compile with -DEXPECTED_VERSION=\"X.Y.Z\""
#endif

int main(void)
{
    vyre_megakernel_options opts;
    vyre_megakernel *mk = NULL;
    vyre_status st;
    const char *version = vyre_version_string();

    if (version == NULL || strcmp(version, EXPECTED_VERSION) != 0) {
        fprintf(stderr, "consumer: libvyre version '%s', expected '%s'\n",
                version ? version : "(null)", EXPECTED_VERSION);
        return 1;
    }

    st = vyre_megakernel_options_init(&opts);
    if (st != VYRE_OK) {
        fprintf(stderr, "consumer: options_init: %s\n", vyre_status_str(st));
        return 1;
    }
    opts.backend = VYRE_BACKEND_REFERENCE;
    st = vyre_megakernel_create(&opts, &mk);
    if (st != VYRE_OK || mk == NULL) {
        char msg[256];
        msg[0] = '\0';
        vyre_last_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "consumer: megakernel_create: %s: %s\n", vyre_status_str(st), msg);
        return 1;
    }
    vyre_megakernel_destroy(mk);

    printf("consumer: libvyre %s, megakernel created and destroyed\n", version);
    return 0;
}
