/* Listing Vulkan devices: vyre_device_count / vyre_device_get_info, bad
 * inputs, and creating a megakernel on each listed device. Exits 77 when no
 * Vulkan device exists (nothing to list).
 *
 * vyre-test: no-valgrind no-asan (lavapipe compiles code at run time, which
 * the memory tools cannot follow; the reference backend runs under both in
 * the other tests). */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <vyre.h>

#include "vyre_test.h"

int main(void)
{
    uint32_t count = 0xEEEEEEEEu, i, defaults = 0;
    vyre_device_info info;

    VYRE_CHECK_STATUS(vyre_device_count(NULL), VYRE_E_NULL_POINTER);
    VYRE_CHECK_OK(vyre_device_count(&count));
    VYRE_CHECK(count != 0xEEEEEEEEu);

    /* Bad inputs: NULL out, struct_size too small, index out of range. */
    VYRE_CHECK_STATUS(vyre_device_get_info(0, NULL), VYRE_E_NULL_POINTER);
    memset(&info, 0xEE, sizeof info);
    info.struct_size = 4;
    VYRE_CHECK_STATUS(vyre_device_get_info(0, &info), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(info.index == 0xEEEEEEEEu); /* nothing written on failure */
    info.struct_size = sizeof info;
    VYRE_CHECK_STATUS(vyre_device_get_info(count, &info), VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK_STATUS(vyre_device_get_info(UINT32_MAX, &info), VYRE_E_OUT_OF_RANGE);
    if (count == 0) {
        printf("no Vulkan device: nothing to list\n");
        return 77;
    }

    for (i = 0; i < count; i++) {
        vyre_megakernel_options opts;
        vyre_megakernel *mk = NULL;
        struct vyre_megakernel_stats stats;
        vyre_ticket t;
        const uint32_t args[2] = {0, 41};

        memset(&info, 0xEE, sizeof info);
        info.struct_size = sizeof info;
        VYRE_CHECK_OK(vyre_device_get_info(i, &info));
        VYRE_CHECK(info.struct_size == sizeof info && info.index == i);
        VYRE_CHECK(memchr(info.name, 0, sizeof info.name) != NULL && info.name[0] != 0);
        VYRE_CHECK(info.device_type <= VYRE_DEVICE_TYPE_CPU);
        VYRE_CHECK(info.has_bar_memory <= 1 && info.is_default <= 1);
        VYRE_CHECK(info.workgroups >= 1 && info.workgroup_size >= 1);
        defaults += info.is_default;
        printf("device %u: %s (type %u, vendor 0x%x, BAR %u, %u x %u lanes%s)\n", i, info.name,
               info.device_type, info.vendor_id, info.has_bar_memory, info.workgroups,
               info.workgroup_size, info.is_default ? ", default" : "");

        /* A megakernel on exactly this device runs slots. */
        VYRE_CHECK_OK(vyre_megakernel_options_init(&opts));
        VYRE_CHECK(opts.device_index == VYRE_DEVICE_DEFAULT);
        opts.backend = VYRE_BACKEND_VULKAN;
        opts.device_index = i;
        opts.worker_count = 1;
        VYRE_CHECK_OK(vyre_megakernel_create(&opts, &mk));
        VYRE_CHECK_OK(vyre_megakernel_publish(mk, VYRE_OP_STORE_U32, 0, args, 2, &t));
        VYRE_CHECK_OK(vyre_megakernel_wait(mk, t, VYRE_WAIT_FOREVER));
        memset(&stats, 0, sizeof stats);
        stats.struct_size = sizeof stats;
        VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &stats));
        VYRE_CHECK(stats.backend == VYRE_BACKEND_VULKAN);
        VYRE_CHECK(stats.worker_count == 1 && stats.lane_count == info.workgroup_size);
        VYRE_CHECK(stats.done_count == 1);
        vyre_megakernel_destroy(mk);
    }
    VYRE_CHECK(defaults == 1);

    /* A device index that does not exist is refused at create. */
    {
        vyre_megakernel_options opts;
        vyre_megakernel *mk = NULL;
        VYRE_CHECK_OK(vyre_megakernel_options_init(&opts));
        opts.backend = VYRE_BACKEND_VULKAN;
        opts.device_index = count;
        VYRE_CHECK_STATUS(vyre_megakernel_create(&opts, &mk), VYRE_E_OUT_OF_RANGE);
        VYRE_CHECK(mk == NULL);
    }
    return 0;
}
