"""DVS128 gesture simulator: an articulated upper body (body.py) rendered to log intensity
(render.py), a DVS pixel model (dvs.py), samples / sequences / shards / demos (generate.py),
and the real-data teacher network that judges realism (teacher.py)."""

# Bump when a seed's recording changes; caches of simulated recordings key on it.
# 2: the "other gestures" kind that reached about along a smooth random path (which both judges read as
# arm circles or waves) reaches to key points with rests instead.
SIM_VERSION = 2
