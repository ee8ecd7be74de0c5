/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`packages/dhcp/test/fixtures.ts > TAP > dhclient-discover.hex > describePacket 1`] = `
Object {
  "chaddr": "52:54:00:f1:00:02",
  "ciaddr": "0.0.0.0",
  "file": "",
  "flags": 0,
  "giaddr": "0.0.0.0",
  "hlen": 6,
  "hops": 0,
  "htype": 1,
  "op": 1,
  "options": Array [
    Object {
      "code": 53,
      "name": "message-type",
      "value": "DISCOVER",
    },
    Object {
      "code": 12,
      "name": "host-name",
      "value": "fixture-host",
    },
    Object {
      "code": 55,
      "name": "parameter-request-list",
      "value": Array [
        1,
        28,
        2,
        3,
        15,
        6,
        119,
        12,
        44,
        47,
        26,
        121,
        42,
      ],
    },
  ],
  "secs": 0,
  "siaddr": "0.0.0.0",
  "sname": "",
  "xid": 2405798938,
  "yiaddr": "0.0.0.0",
}
`

exports[`packages/dhcp/test/fixtures.ts > TAP > dhclient-request.hex > describePacket 1`] = `
Object {
  "chaddr": "52:54:00:f1:00:02",
  "ciaddr": "0.0.0.0",
  "file": "",
  "flags": 0,
  "giaddr": "0.0.0.0",
  "hlen": 6,
  "hops": 0,
  "htype": 1,
  "op": 1,
  "options": Array [
    Object {
      "code": 53,
      "name": "message-type",
      "value": "REQUEST",
    },
    Object {
      "code": 54,
      "name": "server-identifier",
      "value": "10.79.0.1",
    },
    Object {
      "code": 50,
      "name": "requested-ip-address",
      "value": "10.79.0.101",
    },
    Object {
      "code": 12,
      "name": "host-name",
      "value": "fixture-host",
    },
    Object {
      "code": 55,
      "name": "parameter-request-list",
      "value": Array [
        1,
        28,
        2,
        3,
        15,
        6,
        119,
        12,
        44,
        47,
        26,
        121,
        42,
      ],
    },
  ],
  "secs": 0,
  "siaddr": "0.0.0.0",
  "sname": "",
  "xid": 2405798938,
  "yiaddr": "0.0.0.0",
}
`

exports[`packages/dhcp/test/fixtures.ts > TAP > dhcpcd-discover.hex > describePacket 1`] = `
Object {
  "chaddr": "52:54:00:f1:00:03",
  "ciaddr": "0.0.0.0",
  "file": "",
  "flags": 0,
  "giaddr": "0.0.0.0",
  "hlen": 6,
  "hops": 0,
  "htype": 1,
  "op": 1,
  "options": Array [
    Object {
      "code": 53,
      "name": "message-type",
      "value": "DISCOVER",
    },
    Object {
      "code": 55,
      "name": "parameter-request-list",
      "value": Array [
        1,
        121,
        3,
        6,
        12,
        15,
        26,
        28,
        33,
        51,
        54,
        58,
        59,
        119,
      ],
    },
    Object {
      "code": 57,
      "name": "max-message-size",
      "value": 1472,
    },
    Object {
      "code": 61,
      "name": "client-identifier",
      "value": Object {
        "id": "00f1000300010001329ad1b7525400f10003",
        "type": 255,
      },
    },
    Object {
      "code": 80,
      "name": "rapid-commit",
      "value": true,
    },
    Object {
      "code": 116,
      "name": "option-116",
      "raw": "01",
    },
    Object {
      "code": 145,
      "name": "option-145",
      "raw": "01",
    },
  ],
  "secs": 0,
  "siaddr": "0.0.0.0",
  "sname": "",
  "xid": 199661300,
  "yiaddr": "0.0.0.0",
}
`

exports[`packages/dhcp/test/fixtures.ts > TAP > dhcpcd-request.hex > describePacket 1`] = `
Object {
  "chaddr": "52:54:00:f1:00:03",
  "ciaddr": "0.0.0.0",
  "file": "",
  "flags": 0,
  "giaddr": "0.0.0.0",
  "hlen": 6,
  "hops": 0,
  "htype": 1,
  "op": 1,
  "options": Array [
    Object {
      "code": 50,
      "name": "requested-ip-address",
      "value": "10.79.0.102",
    },
    Object {
      "code": 53,
      "name": "message-type",
      "value": "REQUEST",
    },
    Object {
      "code": 54,
      "name": "server-identifier",
      "value": "10.79.0.1",
    },
    Object {
      "code": 55,
      "name": "parameter-request-list",
      "value": Array [
        1,
        121,
        3,
        6,
        12,
        15,
        26,
        28,
        33,
        51,
        54,
        58,
        59,
        119,
      ],
    },
    Object {
      "code": 57,
      "name": "max-message-size",
      "value": 1472,
    },
    Object {
      "code": 61,
      "name": "client-identifier",
      "value": Object {
        "id": "00f1000300010001329ad1b7525400f10003",
        "type": 255,
      },
    },
    Object {
      "code": 145,
      "name": "option-145",
      "raw": "01",
    },
  ],
  "secs": 0,
  "siaddr": "0.0.0.0",
  "sname": "",
  "xid": 199661300,
  "yiaddr": "0.0.0.0",
}
`

exports[`packages/dhcp/test/fixtures.ts > TAP > ipxe-rom-discover.hex > describePacket 1`] = `
Object {
  "chaddr": "52:54:00:f1:00:04",
  "ciaddr": "0.0.0.0",
  "file": "",
  "flags": 0,
  "giaddr": "0.0.0.0",
  "hlen": 6,
  "hops": 0,
  "htype": 1,
  "op": 1,
  "options": Array [
    Object {
      "code": 53,
      "name": "message-type",
      "value": "DISCOVER",
    },
    Object {
      "code": 57,
      "name": "max-message-size",
      "value": 1472,
    },
    Object {
      "code": 93,
      "name": "client-system-architecture",
      "value": Array [
        0,
      ],
    },
    Object {
      "code": 94,
      "name": "client-network-interface",
      "value": Object {
        "major": 2,
        "minor": 1,
        "type": 1,
      },
    },
    Object {
      "code": 60,
      "name": "vendor-class-identifier",
      "value": "PXEClient:Arch:00000:UNDI:002001",
    },
    Object {
      "code": 77,
      "name": "user-class",
      "value": Object {
        "classes": Array [
          "iPXE",
        ],
        "rfc3004": false,
      },
    },
    Object {
      "code": 55,
      "name": "parameter-request-list",
      "value": Array [
        1,
        3,
        6,
        7,
        12,
        15,
        17,
        26,
        43,
        60,
        66,
        67,
        119,
        128,
        129,
        130,
        131,
        132,
        133,
        134,
        135,
        175,
        203,
      ],
    },
    Object {
      "code": 175,
      "name": "ipxe-encapsulated",
      "value": Object {
        "16": "02",
        "17": "01",
        "177": "011af41000",
        "18": "01",
        "19": "01",
        "21": "01",
        "23": "01",
        "235": "010000",
        "24": "01",
        "25": "01",
        "33": "01",
        "34": "01",
        "39": "01",
        "41": "01",
      },
    },
    Object {
      "code": 61,
      "name": "client-identifier",
      "value": Object {
        "id": "525400f10004",
        "type": 1,
      },
    },
    Object {
      "code": 97,
      "name": "client-machine-id",
      "value": Object {
        "guid": "00000000000000000000000000000000",
        "type": 0,
      },
    },
  ],
  "secs": 4,
  "siaddr": "0.0.0.0",
  "sname": "",
  "xid": 2453252939,
  "yiaddr": "0.0.0.0",
}
`

exports[`packages/dhcp/test/fixtures.ts > TAP > ipxe-rom-request.hex > describePacket 1`] = `
Object {
  "chaddr": "52:54:00:f1:00:04",
  "ciaddr": "0.0.0.0",
  "file": "",
  "flags": 0,
  "giaddr": "0.0.0.0",
  "hlen": 6,
  "hops": 0,
  "htype": 1,
  "op": 1,
  "options": Array [
    Object {
      "code": 53,
      "name": "message-type",
      "value": "REQUEST",
    },
    Object {
      "code": 57,
      "name": "max-message-size",
      "value": 1472,
    },
    Object {
      "code": 93,
      "name": "client-system-architecture",
      "value": Array [
        0,
      ],
    },
    Object {
      "code": 94,
      "name": "client-network-interface",
      "value": Object {
        "major": 2,
        "minor": 1,
        "type": 1,
      },
    },
    Object {
      "code": 60,
      "name": "vendor-class-identifier",
      "value": "PXEClient:Arch:00000:UNDI:002001",
    },
    Object {
      "code": 77,
      "name": "user-class",
      "value": Object {
        "classes": Array [
          "iPXE",
        ],
        "rfc3004": false,
      },
    },
    Object {
      "code": 55,
      "name": "parameter-request-list",
      "value": Array [
        1,
        3,
        6,
        7,
        12,
        15,
        17,
        26,
        43,
        60,
        66,
        67,
        119,
        128,
        129,
        130,
        131,
        132,
        133,
        134,
        135,
        175,
        203,
      ],
    },
    Object {
      "code": 175,
      "name": "ipxe-encapsulated",
      "value": Object {
        "16": "02",
        "17": "01",
        "177": "011af41000",
        "18": "01",
        "19": "01",
        "21": "01",
        "23": "01",
        "235": "010000",
        "24": "01",
        "25": "01",
        "33": "01",
        "34": "01",
        "39": "01",
        "41": "01",
      },
    },
    Object {
      "code": 61,
      "name": "client-identifier",
      "value": Object {
        "id": "525400f10004",
        "type": 1,
      },
    },
    Object {
      "code": 97,
      "name": "client-machine-id",
      "value": Object {
        "guid": "00000000000000000000000000000000",
        "type": 0,
      },
    },
    Object {
      "code": 54,
      "name": "server-identifier",
      "value": "10.79.0.1",
    },
    Object {
      "code": 50,
      "name": "requested-ip-address",
      "value": "10.79.0.103",
    },
  ],
  "secs": 10,
  "siaddr": "0.0.0.0",
  "sname": "",
  "xid": 2453252939,
  "yiaddr": "0.0.0.0",
}
`

exports[`packages/dhcp/test/fixtures.ts > TAP > ovmf-pxe-discover.hex > describePacket 1`] = `
Object {
  "chaddr": "52:54:00:f1:00:05",
  "ciaddr": "0.0.0.0",
  "file": "",
  "flags": 32768,
  "giaddr": "0.0.0.0",
  "hlen": 6,
  "hops": 0,
  "htype": 1,
  "op": 1,
  "options": Array [
    Object {
      "code": 53,
      "name": "message-type",
      "value": "DISCOVER",
    },
    Object {
      "code": 57,
      "name": "max-message-size",
      "value": 1472,
    },
    Object {
      "code": 55,
      "name": "parameter-request-list",
      "value": Array [
        1,
        2,
        3,
        4,
        5,
        6,
        12,
        13,
        15,
        17,
        18,
        22,
        23,
        28,
        40,
        41,
        42,
        43,
        50,
        51,
        54,
        58,
        59,
        60,
        66,
        67,
        97,
        128,
        129,
        130,
        131,
        132,
        133,
        134,
        135,
      ],
    },
    Object {
      "code": 97,
      "name": "client-machine-id",
      "value": Object {
        "guid": "00000000000000000000000000000000",
        "type": 0,
      },
    },
    Object {
      "code": 94,
      "name": "client-network-interface",
      "value": Object {
        "major": 3,
        "minor": 0,
        "type": 1,
      },
    },
    Object {
      "code": 93,
      "name": "client-system-architecture",
      "value": Array [
        7,
      ],
    },
    Object {
      "code": 60,
      "name": "vendor-class-identifier",
      "value": "PXEClient:Arch:00007:UNDI:003000",
    },
  ],
  "secs": 0,
  "siaddr": "0.0.0.0",
  "sname": "",
  "xid": 657381413,
  "yiaddr": "0.0.0.0",
}
`

exports[`packages/dhcp/test/fixtures.ts > TAP > ovmf-pxe-request.hex > describePacket 1`] = `
Object {
  "chaddr": "52:54:00:f1:00:05",
  "ciaddr": "0.0.0.0",
  "file": "",
  "flags": 32768,
  "giaddr": "0.0.0.0",
  "hlen": 6,
  "hops": 0,
  "htype": 1,
  "op": 1,
  "options": Array [
    Object {
      "code": 53,
      "name": "message-type",
      "value": "REQUEST",
    },
    Object {
      "code": 54,
      "name": "server-identifier",
      "value": "10.79.0.1",
    },
    Object {
      "code": 50,
      "name": "requested-ip-address",
      "value": "10.79.0.104",
    },
    Object {
      "code": 57,
      "name": "max-message-size",
      "value": 65280,
    },
    Object {
      "code": 55,
      "name": "parameter-request-list",
      "value": Array [
        1,
        2,
        3,
        4,
        5,
        6,
        12,
        13,
        15,
        17,
        18,
        22,
        23,
        28,
        40,
        41,
        42,
        43,
        50,
        51,
        54,
        58,
        59,
        60,
        66,
        67,
        97,
        128,
        129,
        130,
        131,
        132,
        133,
        134,
        135,
      ],
    },
    Object {
      "code": 97,
      "name": "client-machine-id",
      "value": Object {
        "guid": "00000000000000000000000000000000",
        "type": 0,
      },
    },
    Object {
      "code": 94,
      "name": "client-network-interface",
      "value": Object {
        "major": 3,
        "minor": 0,
        "type": 1,
      },
    },
    Object {
      "code": 93,
      "name": "client-system-architecture",
      "value": Array [
        7,
      ],
    },
    Object {
      "code": 60,
      "name": "vendor-class-identifier",
      "value": "PXEClient:Arch:00007:UNDI:003000",
    },
  ],
  "secs": 0,
  "siaddr": "0.0.0.0",
  "sname": "",
  "xid": 657381413,
  "yiaddr": "0.0.0.0",
}
`

exports[`packages/dhcp/test/fixtures.ts > TAP > udhcpc-discover.hex > describePacket 1`] = `
Object {
  "chaddr": "52:54:00:f1:00:01",
  "ciaddr": "0.0.0.0",
  "file": "",
  "flags": 0,
  "giaddr": "0.0.0.0",
  "hlen": 6,
  "hops": 0,
  "htype": 1,
  "op": 1,
  "options": Array [
    Object {
      "code": 53,
      "name": "message-type",
      "value": "DISCOVER",
    },
    Object {
      "code": 57,
      "name": "max-message-size",
      "value": 576,
    },
    Object {
      "code": 55,
      "name": "parameter-request-list",
      "value": Array [
        1,
        3,
        6,
        12,
        15,
        28,
        42,
      ],
    },
    Object {
      "code": 60,
      "name": "vendor-class-identifier",
      "value": "udhcp 1.35.0",
    },
    Object {
      "code": 61,
      "name": "client-identifier",
      "value": Object {
        "id": "525400f10001",
        "type": 1,
      },
    },
  ],
  "secs": 0,
  "siaddr": "0.0.0.0",
  "sname": "",
  "xid": 1086954325,
  "yiaddr": "0.0.0.0",
}
`

exports[`packages/dhcp/test/fixtures.ts > TAP > udhcpc-request.hex > describePacket 1`] = `
Object {
  "chaddr": "52:54:00:f1:00:01",
  "ciaddr": "0.0.0.0",
  "file": "",
  "flags": 0,
  "giaddr": "0.0.0.0",
  "hlen": 6,
  "hops": 0,
  "htype": 1,
  "op": 1,
  "options": Array [
    Object {
      "code": 53,
      "name": "message-type",
      "value": "REQUEST",
    },
    Object {
      "code": 50,
      "name": "requested-ip-address",
      "value": "10.79.0.100",
    },
    Object {
      "code": 54,
      "name": "server-identifier",
      "value": "10.79.0.1",
    },
    Object {
      "code": 57,
      "name": "max-message-size",
      "value": 576,
    },
    Object {
      "code": 55,
      "name": "parameter-request-list",
      "value": Array [
        1,
        3,
        6,
        12,
        15,
        28,
        42,
      ],
    },
    Object {
      "code": 60,
      "name": "vendor-class-identifier",
      "value": "udhcp 1.35.0",
    },
    Object {
      "code": 61,
      "name": "client-identifier",
      "value": Object {
        "id": "525400f10001",
        "type": 1,
      },
    },
  ],
  "secs": 0,
  "siaddr": "0.0.0.0",
  "sname": "",
  "xid": 1086954325,
  "yiaddr": "0.0.0.0",
}
`
