//! What one claimed slot does: the executable specification of every
//! built-in opcode. A GPU backend must leave the buffers exactly as this
//! code does (docs/PROTOCOL.md describes the same rules in prose).
//!
//! Every slot is checked completely before it has any effect, so a faulted
//! slot never leaves half its work behind.

use crate::protocol::abi::*;
use crate::protocol::control::{metric_of, opcode_owner, tenant_may_alias, Control, Window};
use crate::protocol::debug_log::DebugLog;
use crate::protocol::io_queue::{self, LaneStep};
use crate::protocol::opcode::{check_args, decode_packed};
use crate::protocol::scan::{self, Part, ScanBuffers, Step};
use crate::protocol::slot::{Claimed, Outcome, Payload, Ring};
use std::sync::atomic::{AtomicU32, Ordering};

/// The buffers a worker runs slots against.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub control: Control<'a>,
    pub ring: Ring<'a>,
    pub log: DebugLog<'a>,
    pub scan: ScanBuffers<'a>,
}

/// Iterations one claim of a DFA_SCAN part may spend (a byte or a reported
/// match each). Small, so the tests exercise parts continued across claims
/// exactly as slices of a GPU kernel continue them.
pub(crate) const SCAN_CLAIM_BUDGET: u32 = 8192;

/// What running a slot's opcode produced.
enum Exec {
    /// Finished; count it in this metric bucket.
    Done(u32),
    Fault(u32),
    /// Not runnable yet (a fence whose batch is unfinished): hand it back.
    Retry,
    /// A DFA_SCAN part ran out of budget, or an IO_READ waits for the
    /// host: store these arguments (its progress), hand it back.
    Continue([u32; VYRE_SLOT_MAX_ARGS as usize]),
    /// An IO_READ finished: store these arguments (its result), then
    /// complete it DONE (`Ok`, with a metric) or FAULT (`Err`, a reason).
    Answered([u32; VYRE_SLOT_MAX_ARGS as usize], Result<u32, u32>),
}

/// A data operation with every index already resolved inside the window.
enum Resolved {
    Nop,
    Store { index: u32, value: u32 },
    Add { index: u32, delta: u32 },
    Load { src: u32, dst: u32 },
    CompareSwap { index: u32, expected: u32, desired: u32, result: Option<u32> },
    Memcpy { src: u32, dst: u32, count: u32 },
    Printf { format_id: u32, count: u32 },
}

/// Run a claimed slot to completion, or hand it back if it cannot run yet.
/// Returns whether the slot completed.
pub fn serve(ctx: &Context, claimed: &Claimed) -> bool {
    let payload = &claimed.payload;
    let outcome = match batch_counter(ctx, payload) {
        Err(reason) => (None, Outcome::Fault(reason), None),
        Ok(fence_counter) => match execute(ctx, payload) {
            Exec::Retry => {
                ctx.ring.unclaim(claimed);
                return false;
            }
            Exec::Continue(args) => {
                ctx.ring.store_args(claimed.slot, &args);
                ctx.ring.unclaim(claimed);
                return false;
            }
            Exec::Done(metric) => (Some(metric), Outcome::Done, fence_counter),
            Exec::Fault(reason) => (None, Outcome::Fault(reason), fence_counter),
            Exec::Answered(args, result) => {
                ctx.ring.store_args(claimed.slot, &args);
                match result {
                    Ok(metric) => (Some(metric), Outcome::Done, fence_counter),
                    Err(reason) => (None, Outcome::Fault(reason), fence_counter),
                }
            }
        },
    };
    let (metric, outcome, fence_counter) = outcome;
    let scan_job = (payload.opcode == VYRE_OP_DFA_SCAN).then(|| Part::from_args(&payload.args).job);
    if let (Some(job), Outcome::Fault(reason)) = (scan_job, outcome) {
        scan::fault_part(ctx.scan.state, job, reason);
    }
    finish(ctx, claimed, metric, outcome);
    // Counted only after the member's own status is final, so a fence that
    // sees the full count knows every member is DONE or FAULT; likewise a
    // scan part towards its job, so when the job's completion record shows,
    // every part's slot is reusable.
    if let Some(counter) = fence_counter {
        counter.fetch_add(1, Ordering::AcqRel);
    }
    if let Some(job) = scan_job {
        scan::finish_part(ctx.scan.state, job);
    }
    true
}

/// Counters before the status word: whoever sees the slot finished also
/// sees it counted.
fn finish(ctx: &Context, claimed: &Claimed, metric: Option<u32>, outcome: Outcome) {
    ctx.control.count_completion(metric, matches!(outcome, Outcome::Fault(_)));
    ctx.ring.complete(claimed, outcome);
}

/// The fence counter a batch member reports to, checked to belong to the
/// member's own tenant (one tenant cannot complete another's fence).
fn batch_counter<'a>(ctx: &Context<'a>, payload: &Payload) -> Result<Option<&'a AtomicU32>, u32> {
    if payload.batch == 0 {
        return Ok(None);
    }
    match ctx.control.fence(payload.batch - 1) {
        Some((counter, owner)) if owner.load(Ordering::Acquire) == payload.tenant => Ok(Some(counter)),
        _ => Err(VYRE_FAULT_BAD_BATCH),
    }
}

fn execute(ctx: &Context, payload: &Payload) -> Exec {
    let Some(window) = ctx.control.tenant_window(payload.tenant) else {
        return Exec::Fault(if payload.tenant >= ctx.control.layout().tenant_count {
            VYRE_FAULT_BAD_TENANT
        } else {
            VYRE_FAULT_OUT_OF_WINDOW
        });
    };
    if let Err((reason, _)) = check_args(payload.opcode, &payload.args) {
        return Exec::Fault(reason);
    }
    let args = &payload.args;
    match payload.opcode {
        VYRE_OP_BATCH_FENCE => fence(ctx, payload, window),
        VYRE_OP_PACKED_SLOT => packed(ctx, payload.tenant, window, args),
        VYRE_OP_DFA_SCAN => {
            let mut part = Part::from_args(args);
            match scan::walk(&ctx.scan, &mut part, SCAN_CLAIM_BUDGET) {
                Step::Finished => Exec::Done(VYRE_METRIC_DFA_SCAN),
                Step::Continue => Exec::Continue(part.to_args()),
                Step::Fault(reason) => Exec::Fault(reason),
            }
        }
        VYRE_OP_IO_READ if payload.tenant != 0 => Exec::Fault(VYRE_FAULT_OPCODE_NOT_ALLOWED),
        VYRE_OP_IO_READ => io_read(ctx, args),
        VYRE_OP_SHUTDOWN if payload.tenant != 0 => Exec::Fault(VYRE_FAULT_OPCODE_NOT_ALLOWED),
        VYRE_OP_SHUTDOWN => {
            ctx.control.request_shutdown();
            Exec::Done(VYRE_METRIC_SHUTDOWN)
        }
        opcode if opcode_owner(opcode).is_some() => tenant_opcode(ctx, payload, window),
        opcode => match resolve(opcode, args, window) {
            Ok(op) => {
                apply(ctx, payload.tenant, &op, args);
                metric_of(opcode).map_or(Exec::Fault(VYRE_FAULT_UNKNOWN_OPCODE), Exec::Done)
            }
            Err(reason) => Exec::Fault(reason),
        },
    }
}

/// One claim of an IO_READ (`io_queue::lane_step` is the specification).
fn io_read(ctx: &Context, args: &[u32; VYRE_SLOT_MAX_ARGS as usize]) -> Exec {
    let mut args = *args;
    match io_queue::lane_step(ctx.scan.state, &mut args) {
        LaneStep::HandBack { args_changed: true } => Exec::Continue(args),
        LaneStep::HandBack { args_changed: false } => Exec::Retry,
        LaneStep::Done => Exec::Answered(args, Ok(VYRE_METRIC_IO_READ)),
        LaneStep::Failed => Exec::Answered(args, Err(VYRE_FAULT_IO)),
        LaneStep::Fault(reason) => Exec::Fault(reason),
    }
}

fn tenant_opcode(ctx: &Context, payload: &Payload, window: Window) -> Exec {
    if opcode_owner(payload.opcode) != Some(payload.tenant) {
        return Exec::Fault(VYRE_FAULT_OPCODE_NOT_ALLOWED);
    }
    let Some(builtin) = ctx.control.tenant_opcode(payload.tenant, payload.opcode) else {
        return Exec::Fault(VYRE_FAULT_OPCODE_NOT_ALLOWED);
    };
    if !tenant_may_alias(builtin) {
        return Exec::Fault(VYRE_FAULT_OPCODE_NOT_ALLOWED);
    }
    if let Err((reason, _)) = check_args(builtin, &payload.args) {
        return Exec::Fault(reason);
    }
    match resolve(builtin, &payload.args, window) {
        Ok(op) => {
            apply(ctx, payload.tenant, &op, &payload.args);
            Exec::Done(VYRE_METRIC_TENANT)
        }
        Err(reason) => Exec::Fault(reason),
    }
}

fn fence(ctx: &Context, payload: &Payload, window: Window) -> Exec {
    let [fence_index, members, epoch_observable, ..] = payload.args;
    let result = if epoch_observable == VYRE_NO_OBSERVABLE {
        None
    } else {
        match window.resolve(epoch_observable) {
            Some(index) => Some(index),
            None => return Exec::Fault(VYRE_FAULT_OUT_OF_WINDOW),
        }
    };
    if members > 0 {
        match ctx.control.fence(fence_index) {
            None => return Exec::Fault(VYRE_FAULT_BAD_ARGS),
            Some((_, owner)) if owner.load(Ordering::Acquire) != payload.tenant => {
                return Exec::Fault(VYRE_FAULT_BAD_BATCH)
            }
            Some((counter, _)) if counter.load(Ordering::Acquire) < members => return Exec::Retry,
            Some(_) => {}
        }
    }
    let epoch = ctx.control.advance_epoch();
    if let Some(observable) = result.and_then(|index| ctx.control.observable(index)) {
        observable.store(epoch, Ordering::Release);
    }
    Exec::Done(VYRE_METRIC_BATCH_FENCE)
}

fn packed(ctx: &Context, tenant: u32, window: Window, args: &[u32; VYRE_SLOT_MAX_ARGS as usize]) -> Exec {
    let Ok(packed) = decode_packed(args) else {
        return Exec::Fault(VYRE_FAULT_BAD_ARGS);
    };
    let mut resolved = Vec::with_capacity(packed.ops().len());
    for op in packed.ops() {
        let mut op_args = [0u32; VYRE_SLOT_MAX_ARGS as usize];
        op_args[0] = op.a;
        op_args[1] = op.b;
        match resolve(op.opcode, &op_args, window) {
            Ok(r) => resolved.push((op.opcode, r, op_args)),
            Err(reason) => return Exec::Fault(reason),
        }
    }
    for (opcode, op, op_args) in &resolved {
        apply(ctx, tenant, op, op_args);
        if let Some(metric) = metric_of(*opcode) {
            ctx.control.bump_metric(metric);
        }
    }
    Exec::Done(VYRE_METRIC_PACKED_SLOT)
}

/// Check every index of a data operation against the tenant's window.
fn resolve(opcode: u32, args: &[u32; VYRE_SLOT_MAX_ARGS as usize], window: Window) -> Result<Resolved, u32> {
    let inside = |index: u32| window.resolve(index).ok_or(VYRE_FAULT_OUT_OF_WINDOW);
    Ok(match opcode {
        VYRE_OP_NOP => Resolved::Nop,
        VYRE_OP_STORE_U32 => Resolved::Store { index: inside(args[0])?, value: args[1] },
        VYRE_OP_ATOMIC_ADD => Resolved::Add { index: inside(args[0])?, delta: args[1] },
        VYRE_OP_LOAD_U32 => Resolved::Load { src: inside(args[0])?, dst: inside(args[1])? },
        VYRE_OP_COMPARE_SWAP => Resolved::CompareSwap {
            index: inside(args[0])?,
            expected: args[1],
            desired: args[2],
            result: if args[3] == VYRE_NO_OBSERVABLE { None } else { Some(inside(args[3])?) },
        },
        VYRE_OP_MEMCPY => {
            let count = args[2];
            let src = window.resolve_span(args[0], count).ok_or(VYRE_FAULT_OUT_OF_WINDOW)?;
            let dst = window.resolve_span(args[1], count).ok_or(VYRE_FAULT_OUT_OF_WINDOW)?;
            if count > 0 && src < dst + count && dst < src + count {
                return Err(VYRE_FAULT_BAD_ARGS);
            }
            Resolved::Memcpy { src, dst, count }
        }
        VYRE_OP_PRINTF => Resolved::Printf { format_id: args[0], count: args[1] },
        _ => return Err(VYRE_FAULT_UNKNOWN_OPCODE),
    })
}

fn apply(ctx: &Context, tenant: u32, op: &Resolved, args: &[u32; VYRE_SLOT_MAX_ARGS as usize]) {
    // Resolved indices are inside the tenant's window, which `tenant_window`
    // proved lies inside the observables, so `observable` always finds them.
    let word = |index: u32| ctx.control.observable(index);
    match *op {
        Resolved::Nop => {}
        Resolved::Store { index, value } => {
            if let Some(w) = word(index) {
                w.store(value, Ordering::Release);
            }
        }
        Resolved::Add { index, delta } => {
            if let Some(w) = word(index) {
                w.fetch_add(delta, Ordering::AcqRel);
            }
        }
        Resolved::Load { src, dst } => {
            if let (Some(s), Some(d)) = (word(src), word(dst)) {
                d.store(s.load(Ordering::Acquire), Ordering::Release);
            }
        }
        Resolved::CompareSwap { index, expected, desired, result } => {
            if let Some(w) = word(index) {
                let old = match w.compare_exchange(expected, desired, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(old) | Err(old) => old,
                };
                if let Some(r) = result.and_then(word) {
                    r.store(old, Ordering::Release);
                }
            }
        }
        Resolved::Memcpy { src, dst, count } => {
            for i in 0..count {
                if let (Some(s), Some(d)) = (word(src + i), word(dst + i)) {
                    d.store(s.load(Ordering::Acquire), Ordering::Release);
                }
            }
        }
        Resolved::Printf { format_id, count } => {
            let values = &args[2..2 + count as usize];
            ctx.log.append(tenant, format_id, values);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::control::Layout;
    use crate::protocol::opcode::{encode_packed, PackedOp};
    use crate::protocol::slot::Status;
    use crate::protocol::{debug_log, live_words, zeroed_words};

    struct Bufs {
        control: Vec<AtomicU32>,
        ring: Vec<AtomicU32>,
        log: Vec<AtomicU32>,
        scan: Vec<AtomicU32>,
    }

    fn bufs(tenants: u32) -> Bufs {
        let layout = Layout::new(8, tenants, 16, 4).unwrap();
        Bufs {
            control: live_words(&layout.initial_words()),
            ring: zeroed_words(8 * VYRE_SLOT_WORDS as usize),
            log: live_words(&debug_log::initial_words(2).unwrap()),
            scan: live_words(&crate::protocol::scan::ScanLayout::NONE.initial_words().unwrap()),
        }
    }

    impl Bufs {
        fn ctx(&self) -> Context<'_> {
            Context {
                control: Control::new(&self.control).unwrap(),
                ring: Ring::new(&self.ring).unwrap(),
                log: DebugLog::new(&self.log).unwrap(),
                scan: ScanBuffers { arena: &[], rules: &[], state: &self.scan },
            }
        }

        /// Publish a raw payload (bypassing host validation, as a foreign
        /// ring writer could) and run it; returns the final status.
        fn run(&self, slot: u32, payload: Payload) -> Status {
            let ctx = self.ctx();
            ctx.ring.publish(slot, 1, &payload).unwrap();
            let claimed = ctx.ring.try_claim(slot).unwrap();
            serve(&ctx, &claimed);
            ctx.ring.status(slot).unwrap()
        }

        fn obs(&self, index: u32) -> u32 {
            self.ctx().control.observable(index).unwrap().load(Ordering::Acquire)
        }
    }

    fn payload(opcode: u32, tenant: u32, args: &[u32]) -> Payload {
        Payload::new(opcode, tenant, args).unwrap()
    }

    #[test]
    fn data_opcodes_act_on_the_tenants_window() {
        let b = bufs(2); // tenant 1 owns observables 8..16
        assert_eq!(b.run(0, payload(VYRE_OP_STORE_U32, 1, &[2, 40])).state, VYRE_SLOT_DONE);
        b.run(1, payload(VYRE_OP_ATOMIC_ADD, 1, &[2, 2]));
        b.run(2, payload(VYRE_OP_LOAD_U32, 1, &[2, 3]));
        b.run(3, payload(VYRE_OP_COMPARE_SWAP, 1, &[3, 42, 7, 4]));
        b.run(4, payload(VYRE_OP_MEMCPY, 1, &[2, 5, 3]));
        assert_eq!((b.obs(10), b.obs(11), b.obs(12)), (42, 7, 42));
        assert_eq!((b.obs(13), b.obs(14), b.obs(15)), (42, 7, 42));
        assert_eq!(b.obs(2), 0, "tenant 0's words are untouched");
        let c = b.ctx().control;
        assert_eq!(c.done_count(), 5);
        assert_eq!(c.metric(VYRE_METRIC_MEMCPY), Some(1));
    }

    #[test]
    fn tenant_isolation_is_enforced_by_the_executor() {
        let b = bufs(2);
        let s = b.run(0, payload(VYRE_OP_STORE_U32, 1, &[8, 1]));
        assert_eq!((s.state, s.reason), (VYRE_SLOT_FAULT, VYRE_FAULT_OUT_OF_WINDOW));
        assert_eq!(b.run(1, payload(VYRE_OP_STORE_U32, 2, &[0, 1])).reason, VYRE_FAULT_BAD_TENANT);
        assert_eq!(b.run(2, payload(VYRE_OP_SHUTDOWN, 1, &[])).reason, VYRE_FAULT_OPCODE_NOT_ALLOWED);
        let other = VYRE_TENANT_OPCODE_BASE; // tenant 0's window
        assert_eq!(b.run(3, payload(other, 1, &[0, 1])).reason, VYRE_FAULT_OPCODE_NOT_ALLOWED);
        let own = VYRE_TENANT_OPCODE_BASE + VYRE_TENANT_OPCODE_WINDOW;
        assert_eq!(b.run(4, payload(own, 1, &[0, 1])).reason, VYRE_FAULT_OPCODE_NOT_ALLOWED, "unregistered");
        b.ctx().control.register_tenant_opcode(1, own, VYRE_OP_STORE_U32).unwrap();
        assert_eq!(b.run(5, payload(own, 1, &[0, 9])).state, VYRE_SLOT_DONE);
        assert_eq!(b.obs(8), 9);
        assert_eq!(b.run(6, payload(own, 1, &[8, 9])).reason, VYRE_FAULT_OUT_OF_WINDOW);
        let c = b.ctx().control;
        assert_eq!((c.fault_count(), c.metric(VYRE_METRIC_FAULT)), (6, Some(6)));
        assert_eq!(c.metric(VYRE_METRIC_TENANT), Some(1));
        assert!(!c.shutdown_requested());
        assert!((0..16).filter(|&i| i != 8).all(|i| b.obs(i) == 0), "faulted slots had no effect");
    }

    #[test]
    fn faulted_slots_have_no_partial_effects() {
        let b = bufs(1);
        b.run(0, payload(VYRE_OP_STORE_U32, 0, &[1, 5]));
        let ops = [PackedOp { opcode: 1, a: 0, b: 3 }, PackedOp { opcode: 1, a: 99, b: 3 }];
        let s = b.run(1, payload(VYRE_OP_PACKED_SLOT, 0, &encode_packed(&ops).unwrap()));
        assert_eq!(s.reason, VYRE_FAULT_OUT_OF_WINDOW);
        assert_eq!(b.obs(0), 0, "the first packed op did not run");
        assert_eq!(b.run(2, payload(VYRE_OP_MEMCPY, 0, &[0, 1, 2])).reason, VYRE_FAULT_BAD_ARGS, "overlap");
        assert_eq!(b.run(3, payload(VYRE_OP_COMPARE_SWAP, 0, &[1, 5, 6, 16])).reason, VYRE_FAULT_OUT_OF_WINDOW);
        assert_eq!(b.obs(1), 5);
    }

    #[test]
    fn packed_slots_run_every_op_and_count_each() {
        let b = bufs(1);
        let ops = [
            PackedOp { opcode: VYRE_OP_STORE_U32, a: 0, b: 5 },
            PackedOp { opcode: VYRE_OP_ATOMIC_ADD, a: 0, b: 1 },
            PackedOp { opcode: VYRE_OP_LOAD_U32, a: 0, b: 1 },
            PackedOp { opcode: VYRE_OP_NOP, a: 0, b: 0 },
        ];
        assert_eq!(b.run(0, payload(VYRE_OP_PACKED_SLOT, 0, &encode_packed(&ops).unwrap())).state, VYRE_SLOT_DONE);
        assert_eq!((b.obs(0), b.obs(1)), (6, 6));
        let c = b.ctx().control;
        for metric in [
            VYRE_METRIC_PACKED_SLOT,
            VYRE_METRIC_STORE_U32,
            VYRE_METRIC_ATOMIC_ADD,
            VYRE_METRIC_LOAD_U32,
            VYRE_METRIC_NOP,
        ] {
            assert_eq!(c.metric(metric), Some(1), "metric {metric}");
        }
        let mut five = encode_packed(&ops).unwrap();
        five[0] = (five[0] & !VYRE_PACKED_COUNT_MASK) | 5;
        assert_eq!(b.run(1, payload(VYRE_OP_PACKED_SLOT, 0, &five)).reason, VYRE_FAULT_BAD_ARGS);
    }

    #[test]
    fn a_fence_waits_for_every_member_then_bumps_the_epoch() {
        let b = bufs(1);
        let ctx = b.ctx();
        let (counter, owner) = ctx.control.fence(2).unwrap();
        owner.store(0, Ordering::Release);
        counter.store(0, Ordering::Release);
        let mut member = payload(VYRE_OP_ATOMIC_ADD, 0, &[0, 1]);
        member.batch = 3;
        ctx.ring.publish(0, 1, &member).unwrap();
        ctx.ring.publish(1, 1, &member).unwrap();
        ctx.ring.publish(2, 1, &payload(VYRE_OP_BATCH_FENCE, 0, &[2, 2, 5])).unwrap();
        let fence = ctx.ring.try_claim(2).unwrap();
        assert!(!serve(&ctx, &fence), "members still pending: the fence is handed back");
        assert_eq!(ctx.ring.status(2).unwrap().state, VYRE_SLOT_PUBLISHED);
        for slot in 0..2 {
            let claimed = ctx.ring.try_claim(slot).unwrap();
            assert!(serve(&ctx, &claimed));
        }
        let fence = ctx.ring.try_claim(2).unwrap();
        assert!(serve(&ctx, &fence));
        assert_eq!(ctx.control.epoch(), 1);
        assert_eq!((b.obs(5), b.obs(0)), (1, 2));
        assert!((0..3).all(|s| ctx.ring.status(s).unwrap().state == VYRE_SLOT_DONE));
    }

    #[test]
    fn batch_tags_of_another_tenant_or_no_fence_fault() {
        let b = bufs(2);
        let ctx = b.ctx();
        ctx.control.fence(0).unwrap().1.store(0, Ordering::Release);
        let mut foreign = payload(VYRE_OP_NOP, 1, &[]);
        foreign.batch = 1;
        assert_eq!(b.run(0, foreign).reason, VYRE_FAULT_BAD_BATCH);
        assert_eq!(ctx.control.fence(0).unwrap().0.load(Ordering::Acquire), 0, "not counted");
        let mut missing = payload(VYRE_OP_NOP, 0, &[]);
        missing.batch = 99;
        assert_eq!(b.run(1, missing).reason, VYRE_FAULT_BAD_BATCH);
        assert_eq!(b.run(2, payload(VYRE_OP_BATCH_FENCE, 1, &[0, 1, VYRE_NO_OBSERVABLE])).reason, VYRE_FAULT_BAD_BATCH);
        assert_eq!(b.run(3, payload(VYRE_OP_BATCH_FENCE, 0, &[9, 1, VYRE_NO_OBSERVABLE])).reason, VYRE_FAULT_BAD_ARGS);
    }

    #[test]
    fn printf_logs_values_and_counts_drops_and_shutdown_sets_the_flag() {
        let b = bufs(1);
        for slot in 0..3 {
            assert_eq!(b.run(slot, payload(VYRE_OP_PRINTF, 0, &[7, 2, slot, 9])).state, VYRE_SLOT_DONE);
        }
        let contents = debug_log::read(&b.log[..], 0).unwrap();
        assert_eq!((contents.records.len(), contents.dropped), (2, 1));
        assert_eq!(&contents.records[1].values[..3], &[1, 9, 0]);
        assert_eq!(b.run(3, payload(VYRE_OP_PRINTF, 0, &[7, 9])).reason, VYRE_FAULT_BAD_ARGS);
        assert_eq!(b.run(4, payload(0x1234, 0, &[])).reason, VYRE_FAULT_UNKNOWN_OPCODE);
        assert_eq!(b.run(5, payload(VYRE_OP_SHUTDOWN, 0, &[])).state, VYRE_SLOT_DONE);
        assert!(b.ctx().control.shutdown_requested());
    }
}
