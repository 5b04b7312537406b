# libcontainer: what the container backends (docker, podman) share: the
# per-attempt flow through the Docker Engine API (container_backend.c the
# configuration and the ops, container_job.c one attempt, container_sweep.c
# leftovers, container_endpoint.c where the engine listens,
# container_removal.c removals after the exit is reported, container_warm.c
# warm containers, engine_events.c the engine's die events), and the
# engine's formats: the stream demuxer, tar in and out (libarchive), stdin
# through a hijacked attach, handing a bind-mounted workspace to the job's
# user.  A backend plugin links it with lib/httpc/libhttpc.la and adds its
# descriptor and flavour (container_backend.h).
if BUILD_LIB_CONTAINER
# The conformance suite against a real engine, shared by run-docker.sh and
# run-podman.sh.
EXTRA_DIST += tests/conformance/run-engine.sh
noinst_LTLIBRARIES += lib/container/libcontainer.la
lib_container_libcontainer_la_SOURCES = \
	lib/container/container_backend.h lib/container/container_internal.h \
	lib/container/container_backend.c \
	lib/container/container_endpoint.c \
	lib/container/container_job.c \
	lib/container/container_sweep.c \
	lib/container/container_removal.c \
	lib/container/container_warm.c \
	lib/container/launch_file.c lib/container/launch_file.h \
	lib/container/engine_frames.c lib/container/engine_frames.h \
	lib/container/engine_events.c lib/container/engine_events.h \
	lib/container/engine_tar.c lib/container/engine_tar.h \
	lib/container/engine_attach.c lib/container/engine_attach.h \
	lib/container/engine_fs.c lib/container/engine_fs.h \
	lib/container/engine_pull.c lib/container/engine_pull.h
lib_container_libcontainer_la_CPPFLAGS = $(LIB_CPPFLAGS) \
	-DEXECD_WARM_LAUNCHER='"$(pkglibexecdir)/execd-warm-launch"'
# The launcher warm containers wait in (container_warm.c): static, as it is
# bind-mounted into images that may have no C library.
pkglibexec_PROGRAMS = lib/container/execd-warm-launch
lib_container_execd_warm_launch_SOURCES = lib/container/warm_launch.c \
	lib/container/launch_file.c lib/container/launch_file.h
lib_container_execd_warm_launch_CPPFLAGS = $(LIB_CPPFLAGS)
# Linked by this rule, not automake's: the launcher must be static and free
# of any sanitizer runtime whatever CFLAGS/LDFLAGS the tree is built with
# (CI's AddressSanitizer build), since the containers it runs in have
# neither a C library nor libasan.  The flags after $(CFLAGS) win over it.
LAUNCHER_NO_RUNTIME = -fno-sanitize=all
lib/container/execd-warm-launch$(EXEEXT): $(lib_container_execd_warm_launch_SOURCES) config.h
	$(AM_V_CCLD)$(CC) $(DEFS) $(DEFAULT_INCLUDES) $(lib_container_execd_warm_launch_CPPFLAGS) \
	  $(CPPFLAGS) $(AM_CFLAGS) $(CFLAGS) $(LAUNCHER_NO_RUNTIME) -static -o $@ \
	  $(srcdir)/lib/container/warm_launch.c $(srcdir)/lib/container/launch_file.c
lib_container_libcontainer_la_CFLAGS = $(LIB_CFLAGS) $(CURL_CFLAGS) $(LIBARCHIVE_CFLAGS) \
	$(SSL_CFLAGS)
lib_container_libcontainer_la_LIBADD = $(CURL_LIBS) $(LIBARCHIVE_LIBS) $(UV_LIBS) \
	$(JANSSON_LIBS)

# Unit tests: the frame demuxer, tar safety, pull errors.
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_engine_frames tests/unit/test_engine_tar \
	tests/unit/test_engine_pull
TESTS += tests/unit/test_engine_frames tests/unit/test_engine_tar tests/unit/test_engine_pull
tests_unit_test_engine_pull_SOURCES = tests/unit/test_engine_pull.c
tests_unit_test_engine_pull_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_engine_pull_LDADD = lib/container/libcontainer.la $(CHECK_LIBS)
tests_unit_test_engine_frames_SOURCES = tests/unit/test_engine_frames.c
tests_unit_test_engine_frames_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_engine_frames_LDADD = lib/container/libcontainer.la $(CHECK_LIBS)
tests_unit_test_engine_tar_SOURCES = tests/unit/test_engine_tar.c
tests_unit_test_engine_tar_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBARCHIVE_CFLAGS)
tests_unit_test_engine_tar_LDADD = lib/container/libcontainer.la $(CHECK_LIBS) \
	$(LIBARCHIVE_LIBS)
endif
endif
