//! The control buffer decoder: `Layout::read` on arbitrary words, and the
//! live accessors of a buffer it accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vyre::protocol::abi::*;
use vyre::protocol::control::{Control, Layout};
use vyre::protocol::{live_words, words_from_le_bytes};

fuzz_target!(|data: &[u8]| {
    let words = words_from_le_bytes(&data[..data.len() / 4 * 4]).expect("whole words");
    let Ok(layout) = Layout::read(&words[..]) else { return };
    // Accepted: the counts alone determine the layout, and a fresh buffer
    // of that layout decodes to the same one.
    let counts = Layout::new(layout.slot_count, layout.tenant_count, layout.observable_count, layout.fence_count);
    assert_eq!(counts.expect("accepted counts are valid"), layout);
    assert_eq!(Layout::read(&layout.initial_words()[..]).expect("fresh buffer"), layout);
    assert!(words.len() >= layout.total_words as usize);

    let live = live_words(&words);
    let control = Control::new(&live).expect("Layout::read accepted these words");
    assert_eq!(*control.layout(), layout);
    // Corrupt table entries must yield None, never an out-of-bounds access.
    assert!(control.tenant_window(layout.tenant_count).is_none());
    for tenant in 0..layout.tenant_count {
        if let Some(window) = control.tenant_window(tenant) {
            assert!(u64::from(window.base) + u64::from(window.len) <= u64::from(layout.observable_count));
            if let Some(index) = window.resolve(window.len.saturating_sub(1)) {
                assert!(control.observable(index).is_some());
            }
        }
    }
    for metric in 0..=VYRE_METRIC_COUNT {
        assert_eq!(control.metric(metric).is_some(), metric < VYRE_METRIC_COUNT);
    }
    assert_eq!(control.fence(layout.fence_count.saturating_sub(1)).is_some(), layout.fence_count > 0);
    assert!(control.fence(layout.fence_count).is_none());
    assert!(control.observable(layout.observable_count).is_none());
    // Tenant opcode lookups walk the whole table; the first registered
    // opcode of tenant 0 must be found again.
    let opcode = VYRE_TENANT_OPCODE_BASE + 1;
    if control.tenant_opcode(0, opcode).is_none() && control.register_tenant_opcode(0, opcode, VYRE_OP_NOP).is_ok() {
        assert_eq!(control.tenant_opcode(0, opcode), Some(VYRE_OP_NOP));
    }
});
