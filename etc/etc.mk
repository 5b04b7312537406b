# Example configuration and systemd unit.
execdconfdir = $(sysconfdir)/execd
dist_execdconf_DATA = etc/execd.conf
# The unit is Type=notify: installed only when execd is built with libsystemd
# (configure's --with-systemd), distributed always (etc/ is in EXTRA_DIST).
systemdunitdir = $(systemdsystemunitdir)
if HAVE_LIBSYSTEMD
systemdunit_DATA = etc/execd.service
endif
