/* Network namespaces made ahead for network_namespace = "per-job".
 *
 * Making a namespace (unshare(CLONE_NEWNET), loopback up) costs about as
 * much as starting the job itself, and done in the job's vfork child it
 * kept the loop thread suspended meanwhile.  A thread of the pool makes
 * them ahead instead, up to NETNS_POOL_SIZE, and the spawn only setns()es
 * into one.  Each namespace is handed out once and never again: take()
 * removes it from the pool, and the caller closes the descriptor once the
 * job has joined, so that the job's processes hold the only reference
 * (doc/backend-local.md, "Network namespaces made ahead").
 *
 * take() never blocks on the making: with the pool empty it returns -1 and
 * the job makes its own namespace as before. */
#ifndef EXECD_LOCAL_NETNS_POOL_H
#define EXECD_LOCAL_NETNS_POOL_H

#define NETNS_POOL_SIZE 8

typedef struct netns_pool netns_pool;

/* Starts the pool's thread.  Returns NULL with *err set (an errno value)
 * if the thread or the pool cannot be made. */
netns_pool *netns_pool_start(int *err);

/* A namespace made ahead, as a descriptor (O_CLOEXEC) to setns() into and
 * then close; -1 if none is ready.  Does not block (a mutex held only to
 * move a descriptor). */
int netns_pool_take(netns_pool *pool);

/* How many are ready now. */
int netns_pool_ready(netns_pool *pool);

/* Stops the thread and closes the namespaces not handed out. */
void netns_pool_stop(netns_pool *pool);

#endif
