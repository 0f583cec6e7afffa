"""Parse speed of fljob's loaders against the reference parsers.

Prints milliseconds per file (best of several rounds) for a generated sag_pt-sized
HOCON config (about 100 lines, comments, dotted keys, a substitution), the same data
as JSON and as YAML:

    .venv/bin/python benchmarks/parse_bench.py [--rounds 5] [--number 200]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from fljob.compiler.load import load_text

_COMPONENT = """\
    {{
      # component {i}: a persistor, generator or aggregator as in sag_pt
      id = "component_{i}"
      path = "nvflare.app_common.widgets.module_{i}.Widget{i}"
      args.key_metric = "accuracy"
      args.expected_data_kind = "WEIGHT_DIFF"
      args {{
        timeout = {i}0
        ratio = 0.{i}5
        enabled = true
      }}
    }}"""


def sag_pt_text(components: int = 5) -> str:
    """A sag_pt-sized HOCON config (server workflow plus components), ~100 lines."""
    body = ",\n".join(_COMPONENT.format(i=i) for i in range(components))
    return f"""{{
  # version of the configuration
  format_version = 2
  num_rounds = 5
  app_script = "cifar10.py"
  app_config = "--epochs 2"

  # task data filter: if filters are provided, the filter will filter the data flow
  task_data_filters = []
  task_result_filters = []

  workflows = [
    {{
      # 1st workflow
      id = "scatter_and_gather"
      path = "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather"
      args {{
        # min number of clients required for ScatterAndGather controller
        min_clients = 2
        num_rounds = ${{num_rounds}}
        start_round = 0
        wait_time_after_min_received = 0
        aggregator_id = "aggregator"
        persistor_id = "persistor"
        shareable_generator_id = "shareable_generator"
        train_task_name = "train"
        train_timeout = 0
      }}
    }}
  ]

  components = [
{body}
  ]
}}
"""


def best_ms(fn: Callable[[], object], rounds: int, number: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--number", type=int, default=200)
    args = ap.parse_args()

    hocon = sag_pt_text()
    data = load_text(hocon, Path("bench.conf"), "hocon").data
    as_json = json.dumps(data, indent=2)
    import yaml

    as_yaml = yaml.safe_dump(data, sort_keys=False)
    print(
        f"sag_pt-sized file: HOCON {hocon.count(chr(10))} lines, {len(hocon)} chars; "
        f"JSON {as_json.count(chr(10))} lines; YAML {as_yaml.count(chr(10))} lines"
    )

    rows: list[tuple[str, Callable[[], object], int]] = [
        ("fljob HOCON (load_text)", lambda: load_text(hocon, Path("b.conf"), "hocon"), args.number),
        (
            "fljob JSON  (load_text)",
            lambda: load_text(as_json, Path("b.json"), "json"),
            args.number,
        ),
        ("json.loads", lambda: json.loads(as_json), args.number),
        ("fljob YAML  (load_text)", lambda: load_text(as_yaml, Path("b.yml"), "yaml"), args.number),
        ("yaml.load CSafeLoader", lambda: yaml.load(as_yaml, Loader=yaml.CSafeLoader), args.number),
    ]
    try:
        from pyhocon import ConfigFactory
    except ImportError:  # pragma: no cover - pyhocon is a dependency
        ConfigFactory = None
    if ConfigFactory is not None:
        rows.insert(
            1,
            (
                "pyhocon parse_string",
                lambda: ConfigFactory.parse_string(hocon),
                max(1, args.number // 10),
            ),
        )
    for name, fn, number in rows:
        print(f"{name:28s} {best_ms(fn, args.rounds, number):8.3f} ms/file")


if __name__ == "__main__":
    main()
