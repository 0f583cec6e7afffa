"""Rules for bundles and the runtime (FLJ7xx)."""

from fljob.errors import Severity
from fljob.rules import Rule

E, W = Severity.ERROR, Severity.WARNING

RULES = [
    Rule("FLJ701", "bundle-exists", E, "The output path exists; pass --force to replace it."),
    Rule("FLJ702", "manifest-mismatch", E, "A bundle file does not match its MANIFEST entry."),
    # Transport, wire format and certificates (runtime/transport, serde.py, pki.py).
    Rule(
        "FLJ720",
        "transport-unreachable",
        E,
        "A call did not complete: the peer is unreachable or refused the certificate.",
    ),
    Rule("FLJ721", "transport-timeout", E, "A call passed its deadline."),
    Rule(
        "FLJ722",
        "stream-broken",
        E,
        "A body stream broke mid-way, stalled, or a chunk failed its CRC-32 check.",
    ),
    Rule(
        "FLJ723",
        "malformed-frame",
        E,
        "A peer sent a malformed, oversized or out-of-order frame; it was rejected.",
    ),
    Rule("FLJ724", "remote-handler-failed", E, "The remote handler of a call raised."),
    Rule(
        "FLJ725",
        "provisioning-error",
        E,
        "Provisioning was asked something inconsistent (unknown name, role clash).",
    ),
    Rule(
        "FLJ726",
        "bad-payload",
        E,
        "An object cannot be encoded without pickle, or a payload is not fljob's.",
    ),
    # Compact runtime: Client API, workflows, executors, job store (runtime/).
    Rule(
        "FLJ730",
        "client-api-misuse",
        E,
        "The Client API was used out of order, outside a job, or lost its site.",
    ),
    Rule(
        "FLJ731",
        "local-channel-error",
        E,
        "The local channel to the training script closed or got a malformed frame.",
    ),
    Rule(
        "FLJ740",
        "workflow-failed",
        E,
        "A workflow cannot go on (too few results, a missing component).",
    ),
    Rule("FLJ741", "job-aborted", E, "The job was aborted."),
    Rule("FLJ750", "persistor-error", E, "A model cannot be built, loaded or saved."),
    Rule(
        "FLJ760",
        "component-build-failed",
        E,
        "A component of the app cannot be built (unknown class, bad argument, dangling id).",
    ),
    Rule(
        "FLJ761",
        "task-failed",
        E,
        "A task failed on a site (its script crashed, fell silent, or it has no executor).",
    ),
    Rule("FLJ762", "launch-failed", E, "The training script cannot be started."),
    Rule("FLJ770", "unknown-job", E, "No job with that id on the server."),
    Rule("FLJ771", "local-run-failed", E, "A process of the local federation could not start."),
    # Secure peer-to-peer messages (runtime/p2p) and federated statistics (runtime/stats).
    Rule("FLJ780", "p2p-error", E, "A secure peer-to-peer message cannot be sealed or opened."),
    Rule(
        "FLJ781",
        "p2p-untrusted-certificate",
        E,
        "A peer certificate is not issued by the project CA, expired, or names someone else.",
    ),
    Rule(
        "FLJ782",
        "p2p-tampered-message",
        E,
        "A peer message is malformed or fails its signature or authentication tag.",
    ),
    Rule(
        "FLJ783",
        "p2p-replayed-message",
        E,
        "A peer message id was seen before or its timestamp is outside the replay window.",
    ),
    Rule("FLJ784", "p2p-not-for-me", E, "A peer message is addressed to another site or job."),
    Rule("FLJ785", "p2p-unknown-peer", E, "No certificate is known for the addressed peer."),
    Rule(
        "FLJ790", "statistics-error", E, "Site data or a federated statistics request is unusable."
    ),
]
