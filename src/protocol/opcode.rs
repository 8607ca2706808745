//! Argument shapes of the built-in opcodes: the static checks that the host
//! applies before publishing and that every executor applies again after
//! claiming (a ring can be written by more than one party). Window and
//! tenant checks depend on live state and belong to the executor.

use super::abi::*;
use super::control::opcode_owner;
use super::slot::fault_name;

/// One operation inside a PACKED_SLOT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedOp {
    pub opcode: u32,
    pub a: u32,
    pub b: u32,
}

/// A decoded PACKED_SLOT: 1..=`VYRE_PACKED_MAX_OPS` operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed {
    pub count: u32,
    pub ops: [PackedOp; VYRE_PACKED_MAX_OPS as usize],
}

impl Packed {
    pub fn ops(&self) -> &[PackedOp] {
        &self.ops[..self.count as usize]
    }
}

/// Whether `opcode` may appear inside a PACKED_SLOT.
pub fn packable(opcode: u32) -> bool {
    matches!(opcode, VYRE_OP_NOP | VYRE_OP_STORE_U32 | VYRE_OP_ATOMIC_ADD | VYRE_OP_LOAD_U32)
}

/// Build PACKED_SLOT arguments from up to four operations.
pub fn encode_packed(ops: &[PackedOp]) -> Result<[u32; VYRE_SLOT_MAX_ARGS as usize], String> {
    if ops.is_empty() || ops.len() > VYRE_PACKED_MAX_OPS as usize {
        return Err(format!(
            "a packed slot holds 1..={VYRE_PACKED_MAX_OPS} operations, {} given; \
             publish the rest in another slot",
            ops.len()
        ));
    }
    let mut args = [0u32; VYRE_SLOT_MAX_ARGS as usize];
    args[0] = ops.len() as u32;
    for (i, op) in ops.iter().enumerate() {
        if !packable(op.opcode) {
            return Err(format!(
                "opcode {:#x} cannot be packed; only NOP, STORE_U32, ATOMIC_ADD and LOAD_U32 can",
                op.opcode
            ));
        }
        args[0] |= op.opcode << (VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * i as u32);
        args[1 + 2 * i] = op.a;
        args[2 + 2 * i] = op.b;
    }
    Ok(args)
}

/// Decode PACKED_SLOT arguments, or the reason they are malformed.
pub fn decode_packed(args: &[u32; VYRE_SLOT_MAX_ARGS as usize]) -> Result<Packed, String> {
    let count = args[0] & VYRE_PACKED_COUNT_MASK;
    if count == 0 || count > VYRE_PACKED_MAX_OPS {
        return Err(format!("packed slot declares {count} operations; it must hold 1..={VYRE_PACKED_MAX_OPS}"));
    }
    let used_header_bits = VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * count;
    if used_header_bits < 32 && args[0] >> used_header_bits != 0 {
        return Err("packed slot header has opcode bits beyond its operation count".into());
    }
    if args[1 + 2 * count as usize..].iter().any(|&w| w != 0) {
        return Err("packed slot has non-zero argument words after its last operation".into());
    }
    let mut ops = [PackedOp { opcode: VYRE_OP_NOP, a: 0, b: 0 }; VYRE_PACKED_MAX_OPS as usize];
    for i in 0..count as usize {
        let shift = VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * i as u32;
        let opcode = (args[0] >> shift) & ((1 << VYRE_PACKED_OPCODE_BITS) - 1);
        if !packable(opcode) {
            return Err(format!("packed operation {i} has opcode {opcode}, which cannot be packed"));
        }
        ops[i] = PackedOp { opcode, a: args[1 + 2 * i], b: args[2 + 2 * i] };
    }
    Ok(Packed { count, ops })
}

/// Whether `opcode` is a built-in or lies in the tenant opcode space.
pub fn is_known(opcode: u32) -> bool {
    matches!(opcode, VYRE_OP_NOP..=VYRE_OP_IO_READ | VYRE_OP_PRINTF | VYRE_OP_PACKED_SLOT | VYRE_OP_SHUTDOWN)
        || opcode_owner(opcode).is_some()
}

/// Static argument checks of a built-in opcode. Returns the fault reason and
/// a message saying how to fix the arguments.
pub fn check_args(opcode: u32, args: &[u32; VYRE_SLOT_MAX_ARGS as usize]) -> Result<(), (u32, String)> {
    let bad = |message: String| Err((VYRE_FAULT_BAD_ARGS, message));
    match opcode {
        VYRE_OP_MEMCPY if args[2] > VYRE_MEMCPY_MAX_WORDS => bad(format!(
            "MEMCPY of {} words exceeds VYRE_MEMCPY_MAX_WORDS ({VYRE_MEMCPY_MAX_WORDS}); split the copy",
            args[2]
        )),
        VYRE_OP_PRINTF if args[1] > VYRE_PRINTF_MAX_VALUES => {
            bad(format!("PRINTF with {} values exceeds VYRE_PRINTF_MAX_VALUES ({VYRE_PRINTF_MAX_VALUES})", args[1]))
        }
        VYRE_OP_PACKED_SLOT => decode_packed(args).map(|_| ()).or_else(bad),
        // Its other arguments are checked against the scan buffers when it runs.
        VYRE_OP_DFA_SCAN if args[10] != 0 || args[11] != 0 => {
            bad("DFA_SCAN arguments 10 and 11 are reserved and must be 0".into())
        }
        // Its other arguments are checked against the IO queue when it runs,
        // and by the host that services the request.
        VYRE_OP_IO_READ if args[9..].iter().any(|&w| w != 0) => {
            bad("IO_READ arguments 9 to 11 are reserved and must be 0".into())
        }
        _ if !is_known(opcode) => Err((
            VYRE_FAULT_UNKNOWN_OPCODE,
            format!(
                "opcode {opcode:#x} is neither a built-in nor in the tenant opcode space \
                 [{VYRE_TENANT_OPCODE_BASE:#x}, {:#x}); {}",
                VYRE_TENANT_OPCODE_BASE + VYRE_MAX_TENANTS * VYRE_TENANT_OPCODE_WINDOW,
                fault_name(VYRE_FAULT_UNKNOWN_OPCODE)
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn op(opcode: u32, a: u32, b: u32) -> PackedOp {
        PackedOp { opcode, a, b }
    }

    #[test]
    fn one_packed_limit_on_both_sides() {
        let four = [op(1, 0, 1), op(2, 1, 2), op(3, 0, 2), op(0, 0, 0)];
        let args = encode_packed(&four).unwrap();
        assert_eq!(decode_packed(&args).unwrap().ops(), &four);
        assert!(encode_packed(&[op(1, 0, 0); 5]).is_err(), "the host refuses a fifth op");
        let mut five = args;
        five[0] = (five[0] & !VYRE_PACKED_COUNT_MASK) | 5;
        assert!(decode_packed(&five).is_err(), "the executor refuses a fifth op");
        assert!(encode_packed(&[]).is_err());
    }

    #[test]
    fn packed_slots_reject_unpackable_ops_and_stray_words() {
        assert!(encode_packed(&[op(VYRE_OP_MEMCPY, 0, 0)]).is_err());
        let mut args = encode_packed(&[op(1, 0, 0)]).unwrap();
        args[5] = 1;
        assert!(decode_packed(&args).unwrap_err().contains("non-zero argument"));
        let mut args = encode_packed(&[op(1, 0, 0)]).unwrap();
        args[0] |= 2 << 8;
        assert!(decode_packed(&args).unwrap_err().contains("beyond"));
        let mut args = encode_packed(&[op(1, 0, 0)]).unwrap();
        args[0] = 1 | (9 << VYRE_PACKED_OPCODE_SHIFT);
        assert!(decode_packed(&args).is_err());
    }

    #[test]
    fn argument_checks_name_the_limit() {
        let mut args = [0u32; 12];
        args[2] = VYRE_MEMCPY_MAX_WORDS + 1;
        assert_eq!(check_args(VYRE_OP_MEMCPY, &args).unwrap_err().0, VYRE_FAULT_BAD_ARGS);
        args[1] = VYRE_PRINTF_MAX_VALUES + 1;
        assert!(check_args(VYRE_OP_PRINTF, &args).unwrap_err().1.contains("PRINTF"));
        assert_eq!(check_args(0x1234, &[0; 12]).unwrap_err().0, VYRE_FAULT_UNKNOWN_OPCODE);
        assert!(check_args(VYRE_OP_DFA_SCAN, &[0; 12]).is_ok());
        args = [0; 12];
        args[11] = 1;
        assert_eq!(check_args(VYRE_OP_DFA_SCAN, &args).unwrap_err().0, VYRE_FAULT_BAD_ARGS);
        assert!(check_args(VYRE_TENANT_OPCODE_BASE + 7, &[0; 12]).is_ok());
        assert!(check_args(VYRE_OP_SHUTDOWN, &[0; 12]).is_ok());
    }

    proptest! {
        #[test]
        fn decoding_any_packed_args_never_panics(args in proptest::array::uniform12(any::<u32>())) {
            let _ = decode_packed(&args);
            let _ = check_args(VYRE_OP_PACKED_SLOT, &args);
        }
    }
}
