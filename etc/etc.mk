# Example configuration and systemd unit.
execdconfdir = $(sysconfdir)/execd
dist_execdconf_DATA = etc/execd.conf
systemdunitdir = $(prefix)/lib/systemd/system
dist_systemdunit_DATA = etc/execd.service
