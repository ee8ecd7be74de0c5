{
  "targets": [
    {
      "target_name": "netbind",
      "sources": ["native/netbind.c", "native/udpio.c", "native/raw.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-std=gnu11"]
    }
  ]
}
