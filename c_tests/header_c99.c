/* vyre.h must compile on its own as strict C99 with
 * -Wall -Wextra -Wpedantic -Werror: nothing is included before it. */
#include <vyre.h>

/* Uses a type of each kind the header declares: opaque handle, option
 * struct, fixed-size request and record structs, ticket, status code,
 * constants. */
static int uses_types(vyre_megakernel *mk, const vyre_megakernel_options *opts)
{
    vyre_slot_request request = {0};
    vyre_debug_record record = {0};
    vyre_megakernel_stats stats = {0};
    vyre_ticket ticket = {0};
    vyre_status status = VYRE_OK;
    uint32_t metrics[VYRE_METRIC_COUNT] = {0};
    size_t n = sizeof request.args / sizeof request.args[0];

    request.opcode = VYRE_OP_STORE_U32;
    request.arg_count = 2;
    stats.struct_size = (uint32_t)sizeof stats;
    (void)mk;
    (void)opts;
    return (int)status + (int)request.args[0] + (int)record.values[0] + (int)ticket.slot +
           (int)metrics[VYRE_METRIC_NOP] + (int)(n != VYRE_SLOT_MAX_ARGS) + (int)stats.epoch;
}

int main(void)
{
    /* A call through the header, so declarations and linkage are checked. */
    if (vyre_version_major() != VYRE_VERSION_MAJOR) {
        return 1;
    }
    return uses_types((vyre_megakernel *)0, (const vyre_megakernel_options *)0);
}
