"""``ModelLearner``: a class-based alternative to the Client API loop.

>>> class MyLearner(ModelLearner):                               # doctest: +SKIP
...     def train(self, model):
...         return FLModel(params=..., meta={"NUM_STEPS_CURRENT_ROUND": 10})
>>> if __name__ == "__main__":
...     MyLearner().run()

:meth:`ModelLearner.run` connects to the site, dispatches each task to :meth:`train`,
:meth:`validate` or :meth:`submit_model` by the task's kind, and sends back the result.
"""

from __future__ import annotations

from fljob.runtime.client_api import api
from fljob.runtime.client_api.model import FLModel


class ModelLearner:
    """Override :meth:`train` (and :meth:`validate` / :meth:`submit_model` when used)."""

    site_name: str = ""
    job_id: str = ""

    def initialize(self) -> None:
        """Called once, after connecting and before the first task."""

    def train(self, model: FLModel) -> FLModel:
        raise NotImplementedError(f"{type(self).__name__} does not implement train()")

    def validate(self, model: FLModel) -> FLModel:
        raise NotImplementedError(f"{type(self).__name__} does not implement validate()")

    def submit_model(self, model: FLModel) -> FLModel:
        raise NotImplementedError(f"{type(self).__name__} does not implement submit_model()")

    def finalize(self) -> None:
        """Called once when the job ends."""

    def run(self) -> None:
        """Serve every task of the job, then return."""
        api.init()
        self.site_name, self.job_id = api.get_site_name(), api.get_job_id()
        self.initialize()
        try:
            while api.is_running():
                model = api.receive()
                if model is None:
                    break
                if api.is_train():
                    result = self.train(model)
                elif api.is_evaluate():
                    result = self.validate(model)
                elif api.is_submit_model():
                    result = self.submit_model(model)
                else:
                    raise api.ClientAPIError(f"unknown task {api.get_task_name()!r}")
                api.send(result)
        finally:
            self.finalize()
