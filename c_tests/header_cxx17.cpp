// vyre.h must compile on its own as C++17 with
// -Wall -Wextra -Wpedantic -Werror, and its functions must have C linkage
// (cpp_compat: extern "C"), or this program would not link.
#include <vyre.h>

#include <type_traits>

static_assert(std::is_same<vyre_status, int32_t>::value, "vyre_status is int32_t");
static_assert(std::is_standard_layout<vyre_slot_request>::value, "C layout");
static_assert(std::is_standard_layout<vyre_megakernel_options>::value, "C layout");
static_assert(std::is_trivially_copyable<vyre_ticket>::value, "tickets are plain values");
static_assert(sizeof(vyre_slot_request{}.args) / sizeof(uint32_t) == VYRE_SLOT_MAX_ARGS,
              "args holds VYRE_SLOT_MAX_ARGS words");

int main()
{
    vyre_slot_request request{};
    request.opcode = VYRE_OP_STORE_U32;
    request.arg_count = 2;
    vyre_megakernel *mk = nullptr;
    vyre_megakernel_destroy(mk); // destroy(NULL) is a no-op
    if (vyre_version_major() != VYRE_VERSION_MAJOR) {
        return 1;
    }
    return static_cast<int>(request.args[0]);
}
