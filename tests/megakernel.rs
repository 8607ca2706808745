//! The megakernel's host side against the reference backend: exactly-once
//! execution under concurrent publishers, batches, tickets across slot
//! reuse, shutdown and destroy with work in flight.

use std::time::Duration;
use vyre::backend::BackendChoice;
use vyre::error::ErrorKind;
use vyre::megakernel::{Megakernel, Options, SlotRequest, Ticket};
use vyre::protocol::abi::*;

const LONG: Duration = Duration::from_secs(60);

fn megakernel(slots: u32, workers: u32) -> Megakernel {
    Megakernel::create(&Options {
        backend: BackendChoice::Reference,
        slot_count: slots,
        worker_count: workers,
        observable_count: 64,
        ..Options::default()
    })
    .unwrap()
}

fn publish_retrying(mk: &Megakernel, opcode: u32, args: &[u32]) -> Ticket {
    loop {
        match mk.publish(opcode, 0, args) {
            Ok(ticket) => return ticket,
            Err(e) if e.kind == ErrorKind::QueueFull => std::thread::yield_now(),
            Err(e) => panic!("publish failed: {e}"),
        }
    }
}

fn observable(mk: &Megakernel, index: u32) -> u32 {
    let mut value = [0];
    mk.read_observables(index, &mut value).unwrap();
    value[0]
}

#[test]
fn concurrent_publishers_run_every_slot_exactly_once() {
    let mk = megakernel(64, 3);
    let threads = 4u32;
    let per_thread = 3000u32;
    std::thread::scope(|s| {
        for t in 0..threads {
            let mk = &mk;
            s.spawn(move || {
                for _ in 0..per_thread {
                    publish_retrying(mk, VYRE_OP_ATOMIC_ADD, &[t, 1]);
                    publish_retrying(mk, VYRE_OP_ATOMIC_ADD, &[63, 1]);
                }
            });
        }
    });
    mk.wait_idle(LONG).unwrap();
    for t in 0..threads {
        assert_eq!(observable(&mk, t), per_thread, "thread {t}'s counter");
    }
    let total = threads * per_thread * 2;
    assert_eq!(observable(&mk, 63), total / 2);
    let stats = mk.stats();
    assert_eq!((stats.done, stats.faulted, stats.published), (total, 0, u64::from(total)));
    assert_eq!(mk.metrics()[VYRE_METRIC_ATOMIC_ADD as usize], total);
}

#[test]
fn batches_complete_their_fence_only_after_every_member() {
    let mk = megakernel(32, 4);
    let batches = 200u32;
    for b in 0..batches {
        let args: Vec<[u32; 2]> = (0..6).map(|i| [i, 1]).collect();
        let requests: Vec<SlotRequest> =
            args.iter().map(|a| SlotRequest { opcode: VYRE_OP_ATOMIC_ADD, tenant: 0, args: a }).collect();
        let mut members = [Ticket { slot: 0, generation: 0 }; 6];
        let fence = loop {
            match mk.publish_batch(&requests, 10, Some(&mut members)) {
                Ok(fence) => break fence,
                Err(e) if e.kind == ErrorKind::QueueFull => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        };
        mk.wait(fence, LONG).unwrap();
        // The fence is DONE: every member must already be finished.
        for member in members {
            mk.wait(member, Duration::ZERO).unwrap();
        }
        assert_eq!(observable(&mk, 10), b + 1, "the fence wrote its epoch");
        for i in 0..6 {
            assert_eq!(observable(&mk, i), b + 1);
        }
    }
    assert_eq!(mk.epoch(), batches);
}

#[test]
fn a_refused_batch_publishes_nothing() {
    let mk = megakernel(4, 1);
    let args = [0u32, 1];
    let five: Vec<SlotRequest> =
        (0..4).map(|_| SlotRequest { opcode: VYRE_OP_ATOMIC_ADD, tenant: 0, args: &args }).collect();
    assert_eq!(mk.publish_batch(&five, VYRE_NO_OBSERVABLE, None).unwrap_err().kind, ErrorKind::InvalidArgument);
    let mut bad = five[..2].to_vec();
    bad[1].opcode = 0x1234;
    let err = mk.publish_batch(&bad, VYRE_NO_OBSERVABLE, None).unwrap_err();
    assert!(err.message.contains("request 1"), "{}", err.message);
    let mut mixed = five[..2].to_vec();
    mixed[1].tenant = 1;
    assert!(mk.publish_batch(&mixed, VYRE_NO_OBSERVABLE, None).is_err());
    mk.wait_idle(LONG).unwrap();
    assert_eq!(mk.stats().published, 0);
    assert_eq!(observable(&mk, 0), 0);
}

#[test]
fn tickets_stay_answerable_through_seven_reuses_then_expire() {
    let mk = megakernel(1, 1);
    let a = publish_retrying(&mk, VYRE_OP_STORE_U32, &[0, 1]);
    mk.wait(a, LONG).unwrap();
    let b = publish_retrying(&mk, VYRE_OP_STORE_U32, &[99, 1]); // faults: outside the window
    assert_eq!(mk.wait(b, LONG).unwrap_err().kind, ErrorKind::SlotFault);
    mk.wait(a, LONG).unwrap();
    // b's slot (the only one) is reused 7 times: b's fault is still known,
    // a (8 generations back) is not.
    for _ in 0..6 {
        let nop = publish_retrying(&mk, VYRE_OP_NOP, &[]);
        mk.wait(nop, LONG).unwrap();
    }
    assert_eq!(mk.wait(b, LONG).unwrap_err().kind, ErrorKind::SlotFault, "fault remembered six reuses later");
    let last = publish_retrying(&mk, VYRE_OP_NOP, &[]);
    mk.wait(last, LONG).unwrap();
    assert_eq!(mk.wait(b, LONG).unwrap_err().kind, ErrorKind::SlotFault, "and seven");
    assert_eq!(mk.wait(a, LONG).unwrap_err().kind, ErrorKind::TicketExpired, "no stale answer after eight");
    let never = Ticket { slot: 0, generation: last.generation + 1 };
    assert_eq!(mk.wait(never, LONG).unwrap_err().kind, ErrorKind::InvalidArgument);
    assert_eq!(mk.wait(Ticket { slot: 1, generation: 1 }, LONG).unwrap_err().kind, ErrorKind::OutOfRange);
}

#[test]
fn one_slot_reused_many_times_answers_each_publication() {
    let mk = megakernel(1, 1);
    for i in 0..2000u32 {
        let t = publish_retrying(&mk, VYRE_OP_STORE_U32, &[0, i]);
        mk.wait(t, LONG).unwrap();
        assert_eq!(observable(&mk, 0), i);
    }
}

#[test]
fn shutdown_drains_then_refuses_work() {
    let mk = megakernel(64, 2);
    let tickets: Vec<Ticket> = (0..50).map(|_| publish_retrying(&mk, VYRE_OP_ATOMIC_ADD, &[0, 1])).collect();
    mk.shutdown(LONG).unwrap();
    for t in tickets {
        mk.wait(t, LONG).unwrap();
    }
    assert_eq!(observable(&mk, 0), 50);
    assert_eq!(mk.publish(VYRE_OP_NOP, 0, &[]).unwrap_err().kind, ErrorKind::Shutdown);
    assert_eq!(mk.shutdown(LONG).unwrap_err().kind, ErrorKind::Shutdown);
}

#[test]
fn a_shutdown_slot_stops_the_workers_and_refuses_new_work() {
    let mk = megakernel(64, 1);
    let stop = publish_retrying(&mk, VYRE_OP_SHUTDOWN, &[]);
    mk.wait(stop, LONG).unwrap();
    assert_eq!(mk.publish(VYRE_OP_NOP, 0, &[]).unwrap_err().kind, ErrorKind::Shutdown);
    let err = mk.shutdown(Duration::from_millis(10));
    assert!(err.is_ok() || err.unwrap_err().kind == ErrorKind::Cancelled);
}

#[test]
fn dropping_with_work_in_flight_cancels_and_joins() {
    for _ in 0..20 {
        let mk = megakernel(256, 4);
        for _ in 0..200 {
            if mk.publish(VYRE_OP_MEMCPY, 0, &[0, 32, 32]).is_err() {
                break;
            }
        }
        drop(mk);
    }
}

#[test]
fn shutdown_with_zero_drain_reports_cancelled_slots() {
    let mk = megakernel(256, 1);
    let tickets: Vec<Ticket> = (0..255).filter_map(|_| mk.publish(VYRE_OP_MEMCPY, 0, &[0, 32, 32]).ok()).collect();
    let result = mk.shutdown(Duration::ZERO);
    let cancelled = mk.stats().cancelled;
    match result {
        Ok(()) => assert_eq!(cancelled, 0),
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::Cancelled);
            assert!(cancelled > 0);
        }
    }
    let mut outcomes = (0u64, 0u64);
    for t in tickets {
        match mk.wait(t, LONG) {
            Ok(()) => outcomes.0 += 1,
            Err(e) if e.kind == ErrorKind::Cancelled => outcomes.1 += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(outcomes.1, cancelled, "every cancelled slot's waiter is told so");
    assert_eq!(outcomes.0, u64::from(mk.stats().done));
}

#[test]
fn bad_options_are_rejected_with_a_fix() {
    let bad = [
        Options { slot_count: VYRE_MAX_SLOTS + 1, ..Options::default() },
        Options { tenant_count: VYRE_MAX_TENANTS + 1, ..Options::default() },
        Options { observable_count: VYRE_MAX_OBSERVABLES + 1, ..Options::default() },
        Options { debug_log_capacity: VYRE_MAX_DEBUG_RECORDS + 1, ..Options::default() },
        Options { backend: BackendChoice::Reference, worker_count: 1000, ..Options::default() },
        Options { backend: BackendChoice::Vulkan, worker_count: 4097, ..Options::default() },
    ];
    for options in bad {
        let err = Megakernel::create(&options).err().expect("rejected");
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "{options:?}");
    }
}
