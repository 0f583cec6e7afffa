"""Rules for deployment and the job lifecycle (FLJ710-FLJ719): provisioning, admin
authorization, site policies and plug-ins, scheduling, ``fljob poc``."""

from fljob.errors import Severity
from fljob.rules import Rule

E, W = Severity.ERROR, Severity.WARNING

RULES = [
    Rule(
        "FLJ710",
        "bad-project-file",
        E,
        "A provisioning project file is missing a key, has a wrong type or an unknown key.",
        bad="sites: [{name: site-1, org: 7}]",
        good="sites: [{name: site-1, org: hospital-a}]",
    ),
    Rule(
        "FLJ711",
        "provision-conflict",
        E,
        "Re-provisioning would change a participant whose certificate is kept (org, kind).",
    ),
    Rule(
        "FLJ712",
        "not-authorized",
        E,
        "The admin's role (from the server's authorization policy) does not allow the command.",
        bad="member submits a job",
        good="lead submits a job",
    ),
    Rule(
        "FLJ713",
        "bad-authorization-policy",
        E,
        "The server's authorization policy file names an unknown role, right or scope.",
    ),
    Rule(
        "FLJ714",
        "bad-site-policy",
        E,
        "A site policy file has an unknown key, a wrong type or a plug-in that cannot load.",
    ),
    Rule(
        "FLJ715",
        "job-vetoed",
        E,
        "A site policy or an event plug-in refused the job (at submission, deployment or "
        "before a component is built); the reason reaches the submitter.",
    ),
    Rule(
        "FLJ716",
        "unschedulable",
        E,
        "The job can never be scheduled: a site it needs is unknown or declares fewer "
        "resources than its resource_spec asks.",
    ),
    Rule(
        "FLJ717",
        "bad-resource-spec",
        E,
        "A job's resource_spec or min_clients/mandatory_clients is not well-formed.",
        bad='resource_spec: {site-1: {num_of_gpus: "two"}}',
        good="resource_spec: {site-1: {num_of_gpus: 2}}",
    ),
    Rule(
        "FLJ718",
        "poc-state",
        E,
        "A `fljob poc` command refuses: the workspace is not prepared, or is still running.",
    ),
    Rule(
        "FLJ719",
        "poc-start-failed",
        E,
        "A POC participant process exited before it was ready; its log tail is shown.",
    ),
]
