"""A proxyless gRPC C-core client (Python grpcio) of one xDS target, driven over stdin/stdout.

Started by test/support/xds-core-client.ts with GRPC_XDS_BOOTSTRAP pointing at a bootstrap
file (relay, node id, node metadata). Usage: xds_grpc_client.py <target> <method path>.

Each line on stdin is a JSON command; each answer is one JSON line on stdout:
  {"calls": n, "metadata": {...}, "deadlineMs": 5000}
      makes n Whoami calls one after another on the same channel and answers
      {"answers": {"<backend>": count, ...}, "errors": {"<status code>": count, ...},
       "lastError": "<details>"}.
End of stdin closes the channel and exits: the channel (and the load it has not yet reported)
stays alive until then, so the caller decides when load reports have been seen.
"""

import json
import sys

import grpc


def main() -> None:
    target, method = sys.argv[1], sys.argv[2]
    channel = grpc.insecure_channel(f"xds:///{target}")
    # No serializers: requests and responses are raw bytes (the backend answers its name).
    whoami = channel.unary_unary(method)
    print(json.dumps({"ready": grpc.__version__}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        metadata = tuple((k, v) for k, v in (command.get("metadata") or {}).items())
        timeout = command.get("deadlineMs", 5000) / 1000
        answers: dict = {}
        errors: dict = {}
        last_error = None
        for _ in range(int(command.get("calls", 1))):
            try:
                name = whoami(b"", timeout=timeout, metadata=metadata).decode("utf-8")
                answers[name] = answers.get(name, 0) + 1
            except grpc.RpcError as error:
                code = error.code().name
                errors[code] = errors.get(code, 0) + 1
                last_error = error.details()
        print(json.dumps({"answers": answers, "errors": errors, "lastError": last_error}), flush=True)
    channel.close()


if __name__ == "__main__":
    main()
