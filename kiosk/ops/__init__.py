"""Running as an appliance: systemd notify and watchdog, signed remote config, clock trust,
health metrics, the audit log and `kiosk doctor`. Nothing here is needed for `kiosk demo`.
"""
