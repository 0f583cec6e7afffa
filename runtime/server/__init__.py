"""The server side: the server process (``server.py``), each job's server process
(``job_process.py``), its task board (the controller API's implementation), the site
registry and the admin client."""
