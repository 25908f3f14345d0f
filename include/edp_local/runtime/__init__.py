"""Local platform runtime: starts, supervises and stops every local stand-in on one machine.

``make run`` / ``make stop`` / ``make status`` are thin wrappers around ``python -m edp_local.runtime``.
Each component is a :class:`~edp_local.runtime.services.ServiceSpec`; adding one is a few lines in
:func:`edp_local.runtime.registry.platform_services`.
"""
