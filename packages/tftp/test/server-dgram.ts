// server.ts once more, with the server on node:dgram sockets (io: 'dgram'): the path taken on
// IPv6, on platforms without @rackboot/netbind's addon, and when asked for.
process.env.RB_TFTP_TEST_IO = 'dgram'
await import('./server.js')
