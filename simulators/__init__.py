"""Local simulators of the five provider APIs, served over real HTTP on loopback (tests and ``demo``)."""
