{
  # Native code of quiesce, built by node-gyp (npm_config_nodedir=/usr npx node-gyp rebuild).
  # Append further targets (the Node addon) to "targets".
  "variables": {
    "java_home%": "<!(node native/jvmti/java-home.cjs)"
  },
  "targets": [
    {
      # JVMTI library loaded into target JVMs by the agent (System.load). Not a Node addon:
      # it links nothing of Node, exports only the JNI entry points, and carries its C++ runtime.
      "target_name": "quiesce_jvmti",
      "type": "shared_library",
      "product_prefix": "lib",
      "product_name": "quiesce_jvmti",
      "sources": [
        "native/jvmti/heap_lookup.cpp",
        "native/jvmti/jni_errors.cpp",
        "native/jvmti/jvmti_env.cpp",
        "native/jvmti/lookup_lock.cpp",
        "native/jvmti/vm_entry.cpp"
      ],
      "include_dirs": [
        "<(java_home)/include",
        "<(java_home)/include/linux"
      ],
      "cflags": ["-fvisibility=hidden", "-O2"],
      "cflags_cc": ["-fno-exceptions", "-fno-rtti", "-fvisibility-inlines-hidden"],
      "cflags!": ["-O3"],
      "ldflags": [
        "-static-libstdc++",
        "-static-libgcc",
        "-Wl,--version-script=<(module_root_dir)/native/jvmti/exports.map",
        "-Wl,-z,now",
        "-Wl,-z,relro",
        "-Wl,--no-undefined"
      ],
      "libraries": ["-lpthread"]
    }
  ]
}
