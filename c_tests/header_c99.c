/* vyre.h must compile on its own as strict C99 with
 * -Wall -Wextra -Wpedantic -Werror: nothing is included before it. */
#include <vyre.h>

/* Uses a type of each kind the header declares: opaque handle, option
 * struct, fixed-size work item, status code, constants. */
static int uses_types(vyre_megakernel *mk, const vyre_megakernel_options *opts)
{
    vyre_slot_request request = {0};
    vyre_opcode_metric metric = {0};
    vyre_debug_record record = {0};
    vyre_ticket ticket;
    vyre_status status = VYRE_OK;

    request.opcode = VYRE_OP_STORE_U32;
    request.arg_count = 2;
    metric.opcode = VYRE_OP_NOP;
    record.value_count = 0;
    (void)ticket;
    (void)mk;
    (void)opts;
    return (int)status + (int)request.args[0] + (int)metric.count + (int)record.values[0];
}

int main(void)
{
    /* A call through the header, so declarations and linkage are checked. */
    if (vyre_version_major() != VYRE_VERSION_MAJOR) {
        return 1;
    }
    return uses_types((vyre_megakernel *)0, (const vyre_megakernel_options *)0);
}
