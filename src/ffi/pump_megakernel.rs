//! `vyre_pump_create_for_megakernel`: a `vyre_pump` whose chunks become
//! slots of a bare megakernel (docs/PUMP.md, "Feeding a bare megakernel").
//! Every other `vyre_pump_*` call serves both kinds of pump (src/ffi/pump.rs).

use super::megakernel::{read_sized, vyre_megakernel};
use super::pump::{options_from_c, vyre_pump, vyre_pump_options};
use super::{guard, input, input_slice, output};
use crate::error::vyre_status;
use crate::pump::{vyre_pump_slot_template, Pump, PumpOptions};

/// Create a pump that reads files into observables of the bare megakernel
/// `mk` and, as each chunk's read completes, publishes one slot made from
/// `templates[rule_set_id]` (the submit's `rule_set_id` names the
/// template). `opts` may be NULL for all defaults.
///
/// The pump's share is the observables seen as bytes (observable `i` is
/// bytes `4i..4i + 4`, little-endian): `arena_offset` and `arena_bytes` of
/// `opts` (0 = to the last observable) and `chunk_bytes` (0 = a quarter of
/// the share, at most 4 MiB) must be multiples of 4. A chunk starts on an
/// observable; the bytes after its end up to its last observable's end read
/// 0. Its slot's result (`vyre_pump_drain`) has `status` `VYRE_OK` when the
/// slot completed DONE, or the slot's fault status with `fault_reason`; the
/// chunk's observables are reused only once the slot is final.
///
/// Each template is checked as `vyre_megakernel_publish` would check it,
/// and the share must lie inside its tenant's window when it uses
/// `VYRE_PUMP_ARG_WORD`: `VYRE_E_INVALID_ARGUMENT`, `VYRE_E_OUT_OF_RANGE`
/// otherwise. `VYRE_E_UNSUPPORTED` when io_uring is not available. Several
/// pumps may feed one megakernel, on shares that do not overlap.
///
/// # Safety
/// `mk` must be a live handle that outlives the pump (destroy the pump
/// first); `opts`, if not NULL, must point to `opts->struct_size` readable
/// bytes; `templates` to `template_count` templates; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vyre_pump_create_for_megakernel(
    mk: *mut vyre_megakernel,
    opts: *const vyre_pump_options,
    templates: *const vyre_pump_slot_template,
    template_count: usize,
    out: *mut *mut vyre_pump,
) -> vyre_status {
    guard("vyre_pump_create_for_megakernel", || {
        let out = output(out, "out")?;
        // SAFETY: the caller guarantees a live megakernel that outlives the
        // pump (vyre_pump_destroy comes before vyre_megakernel_destroy), so
        // extending the borrow to 'static never lets the pump see a freed one.
        let mk: &'static vyre_megakernel = unsafe { input(mk.cast_const(), "mk") }?;
        let options = if opts.is_null() {
            PumpOptions::default()
        } else {
            // SAFETY: non-NULL, and the caller guarantees struct_size readable bytes.
            options_from_c(&unsafe { read_sized(opts, "vyre_pump_options") }?)?
        };
        // SAFETY: the caller guarantees template_count readable templates.
        let templates = unsafe { input_slice(templates, template_count, "templates") }?;
        out.write(vyre_pump::into_raw(Pump::create_for_megakernel(&mk.inner, &options, templates)?));
        Ok(())
    })
}
