//! A device backend's bindings, tested on any machine: luminal_cuda moves every
//! retrieved tensor (outputs, a state's next value) onto a new copy-to-host
//! node and copies every host-fed node to the device. The `CopyingReference`
//! backend performs the same graph surgery over luminal's reference ops; a
//! program that binds the ids the surgery remaps computes exactly what the
//! plain reference computes, for every optimizer, every technique plugin and
//! every shipped config, and counts the states' round trips as transfers.

mod common;

use common::twin;
use traintop::engine::Backend;

const STEPS: usize = 4;

#[test]
fn copy_nodes_compute_exactly_what_the_reference_computes() {
    for case in twin::matrix().into_iter().chain(twin::shipped_configs(&["run.batch_size=4"])) {
        let plain = twin::train(&case, Backend::Reference, STEPS);
        let copied = twin::train(&case, Backend::CopyingReference, STEPS);
        twin::assert_same(&case.name, &plain, &copied, 0.0);
        for (program, report) in &copied.reports {
            assert_eq!(report.failed, None, "case {}: {program}", case.name);
        }
        // Each state goes to the device and, updated, back, each step: at
        // least every parameter's bytes both ways, on top of the batch and
        // the scalars that the plain reference also moves.
        let params: usize = plain.states.iter().filter(|(n, _)| n.starts_with("layer")).map(|(_, v)| v.len()).sum();
        let least = (4 * params * STEPS) as u64;
        let (with, without) = (copied.transfers.0, plain.transfers.0);
        assert!(with.to_device_bytes >= without.to_device_bytes + least, "case {}: {with:?} vs {without:?}", case.name);
        assert!(with.to_host_bytes >= without.to_host_bytes + least, "case {}: {with:?} vs {without:?}", case.name);
    }
}
