"""The client side: the site process (``site.py``) and each job's site process
(``job_process.py``)."""
