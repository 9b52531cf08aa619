#!/usr/bin/env python3
"""The demo's simulated production devices for the waves step.

Each device has a real identity: a P-256 key made here and a production
certificate signed by the factory PKI's online device CA (`bulwark keys ca
sign --production`). Over mutual TLS to the real gateway it does what the
agent does about a wave, minus the installation itself: GET /wave, check
the charter's cohort rule for its own UUID against the step granted, and
report the installation's outcome with POST /events (a seeded share of
the devices fail).

  demo-fleet.py enroll DIR N PKI PIN BULWARK
  demo-fleet.py run DIR GATEWAY_PORT CA TARGET FAIL_SHARE SECONDS ADMIN_PORT TOKEN
"""
import hashlib
import http.client
import json
import os
import random
import ssl
import subprocess
import sys
import time
import uuid as uuidlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def enroll(d, n, pki, pin, bw):
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        dd = os.path.join(d, "dev%02d" % i)
        os.makedirs(dd, exist_ok=True)
        uid = str(uuidlib.uuid4())
        key = ec.generate_private_key(ec.SECP256R1())
        fd = os.open(os.path.join(dd, "key.pem"),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        csr = (x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, uid),
                       x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                          "demo"),
                       x509.NameAttribute(NameOID.BUSINESS_CATEGORY,
                                          "production")]))
            .sign(key, hashes.SHA256()))
        with open(os.path.join(dd, "csr.pem"), "wb") as f:
            f.write(csr.public_bytes(serialization.Encoding.PEM))
        subprocess.run([bw, "keys", "ca", "sign", pki,
                        os.path.join(dd, "csr.pem"), "--device",
                        "--production", "--issuer", "online-ca",
                        "--hsm-pin-file", pin, "-o",
                        os.path.join(dd, "cert.pem")],
                       check=True, capture_output=True, timeout=60)
        with open(os.path.join(dd, "chain.pem"), "wb") as f:
            for p in (os.path.join(dd, "cert.pem"),
                      os.path.join(pki, "online-ca.pem")):
                with open(p, "rb") as g:
                    f.write(g.read())
        with open(os.path.join(dd, "uuid"), "w") as f:
            f.write(uid)
    print("%d production devices enrolled (online device CA)" % n)


def own_step(signed, uid):
    """The charter's cohort rule, as every device applies it to itself."""
    h = hashlib.sha256(bytes.fromhex(signed["salt"]) +
                       uid.lower().encode()).digest()
    x = int.from_bytes(h[:8], "big")
    for i, st in enumerate(signed["steps"]):
        if x * 10**6 < st["admit_ppm"] << 64:
            return i
    return None


def request(port, ca, dd, method, path, body=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.check_hostname = False
    ctx.load_cert_chain(os.path.join(dd, "chain.pem"),
                        os.path.join(dd, "key.pem"))
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                    context=ctx)
    try:
        c.request(method, path, body=body,
                  headers={"x-ats-tags": "fleet"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def admin_status(port, ca, token, name):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                    context=ctx)
    try:
        c.request("GET", "/waves/" + name,
                  headers={"Authorization": "Bearer " + token})
        return json.loads(c.getresponse().read())
    finally:
        c.close()


def run(d, port, ca, target, fail_share, seconds, admin_port, token):
    rng = random.Random(target)  # seeded: the same devices fail each run
    devs = sorted(os.listdir(d))
    fails = {x for x in devs if rng.random() < fail_share}
    done, eligible, name = set(), set(), None
    deadline = time.time() + seconds
    while time.time() < deadline:
        for x in devs:
            if x in done:
                continue
            dd = os.path.join(d, x)
            st, body = request(port, ca, dd, "GET", "/wave")
            if st != 200:
                continue
            w = json.loads(body)
            signed = w["charter"]["signed"]
            name = signed["name"]
            with open(os.path.join(dd, "uuid")) as f:
                uid = f.read()
            mine = own_step(signed, uid)
            if mine is not None:
                eligible.add(x)
            if w["step"] < 0 or mine is None or mine > w["step"]:
                continue
            ok = x not in fails
            ev = [{"id": str(uuidlib.uuid4()),
                   "deviceTime": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                               time.gmtime()),
                   "eventType": {"id": "EcuInstallationCompleted",
                                 "version": 0},
                   "event": {"correlationId": str(uuidlib.uuid4()),
                             "targetName": target, "version": "0",
                             "success": ok, "ecu": uid}}]
            request(port, ca, dd, "POST", "/events", json.dumps(ev).encode())
            done.add(x)
            print("  %s (step %d) installed %s: %s" %
                  (x, mine, target, "ok" if ok else "FAILED"))
        if name:
            s = admin_status(admin_port, ca, token, name)
            # over when the wave stopped, or every device its charter
            # admits has reported in the last step
            if s["state"] != "running" or (
                    s["step"] == len(s["steps"]) - 1 and eligible <= done):
                break
        time.sleep(0.5)
    print("%d devices reported" % len(done))


def main():
    if sys.argv[1] == "enroll":
        enroll(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5],
               sys.argv[6])
    else:
        with open(sys.argv[9]) as f:
            token = f.read().strip()
        run(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5],
            float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]), token)


if __name__ == "__main__":
    main()
