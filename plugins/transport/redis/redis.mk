# The redis transport: requests from a stream (consumer group) and pub/sub,
# events out (doc/transport-redis.md); hiredis through lib/uvredis.
if BUILD_PLUGIN_REDIS
plugin_LTLIBRARIES += plugins/transport/redis/transport_redis.la
plugins_transport_redis_transport_redis_la_SOURCES = \
	plugins/transport/redis/redis_internal.h \
	plugins/transport/redis/redis.c \
	plugins/transport/redis/intake.c \
	plugins/transport/redis/reclaim.c \
	plugins/transport/redis/plain.c \
	plugins/transport/redis/events.c \
	plugins/transport/redis/message.c \
	plugins/transport/redis/message.h
plugins_transport_redis_transport_redis_la_CFLAGS = $(PLUGIN_CFLAGS) $(HIREDIS_CFLAGS)
plugins_transport_redis_transport_redis_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_transport_redis_transport_redis_la_LIBADD = lib/configcheck/libconfigcheck.la \
	lib/uvredis/libuvredis.la $(HIREDIS_LIBS) $(UV_LIBS) $(JANSSON_LIBS)

# The daemon with the redis transport against a private redis-server
# (tests/integration/redis_server.py): intake, events, kill -9 of execd
# and of redis-server, dead letters, refusals, AUTH.
TESTS += tests/integration/run-redis-transport.sh
endif
EXTRA_DIST += tests/integration/run-redis-transport.sh \
	tests/integration/test_redis_transport.py tests/integration/redis_server.py \
	doc/transport-redis.md bench/redis-intake bench/redis-intake-bullmq.js
