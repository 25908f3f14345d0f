"""Local platform runtime: starts, supervises and stops every local stand-in on one machine.

``make run`` / ``make stop`` / ``make status`` are thin wrappers around ``python -m local_runtime``.
Each component is a :class:`~local_runtime.services.ServiceSpec`; adding one is a few lines in
:func:`local_runtime.registry.platform_services`.
"""
