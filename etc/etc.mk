# Example configuration and systemd unit.
dist_sysconf_DATA =
execdconfdir = $(sysconfdir)/execd
dist_execdconf_DATA = etc/execd.conf
