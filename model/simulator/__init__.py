"""DVS128 gesture simulator: an articulated upper body (body.py) rendered to log intensity
(render.py), a DVS pixel model (dvs.py), samples / sequences / shards / demos (generate.py),
and the real-data teacher network that judges realism (teacher.py)."""
