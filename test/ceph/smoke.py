#!/usr/bin/python3
"""Smoke test / behaviour probe for the RGW started by test/ceph/start.sh.

usage: smoke.py DIR            basic bucket/key round trip with boto (SigV2)
       smoke.py DIR --probe    also print raw RGW answers for quirk handling
       smoke.py DIR --skewed   expect 403 RequestTimeTooSkewed (FAKETIME_OFFSET)

Uses Debian's python3-boto (boto 2).  Talks to 127.0.0.1 only.
"""
import sys
import uuid

import boto
import boto.exception
import boto.s3.connection


def load_env(d):
    env = {}
    with open(d + "/env") as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v
    return env


def connect(env):
    return boto.connect_s3(
        aws_access_key_id=env["RGW_ACCESS_KEY"],
        aws_secret_access_key=env["RGW_SECRET_KEY"],
        host="127.0.0.1", port=int(env["RGW_PORT"]), is_secure=False,
        calling_format=boto.s3.connection.OrdinaryCallingFormat())


def show(title, r, body=None):
    if body is None:
        body = r.read()
    print("=== %s -> %s %s" % (title, r.status, r.reason))
    for k, v in r.getheaders():
        print("    %s: %s" % (k, v))
    print("    body (%d bytes): %r" % (len(body), body[:1500]))
    return body


def main():
    d = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else ""
    env = load_env(d)
    c = connect(env)
    name = "smoke-" + uuid.uuid4().hex[:8]

    if mode == "--skewed":
        try:
            c.create_bucket(name)
        except boto.exception.S3ResponseError as e:
            print("got %s %s" % (e.status, e.error_code))
            print(e.body)
            if e.status == 403 and e.error_code == "RequestTimeTooSkewed":
                print("OK: RequestTimeTooSkewed")
                return 0
            return 1
        print("FAIL: request was accepted")
        return 1

    b = c.create_bucket(name)
    k = b.new_key("dir/hello.txt")
    k.set_contents_from_string("hello world\n")
    got = b.get_key("dir/hello.txt").get_contents_as_string()
    assert got == b"hello world\n", got
    assert [x.name for x in b.list()] == ["dir/hello.txt"]
    b.delete_key("dir/hello.txt")
    assert b.get_key("dir/hello.txt") is None
    print("OK: boto create bucket / put / get / list / delete (%s)" % name)

    if mode == "--probe":
        probe(c, b)

    for key in b.list():
        key.delete()
    c.delete_bucket(name)
    return 0


def probe(c, b):
    mr = c.make_request
    bn = b.name
    b.new_key("a/one").set_contents_from_string("1")
    b.new_key("two").set_contents_from_string("22")

    show("HEAD missing key", mr("HEAD", bn, "missing"))
    show("GET missing key", mr("GET", bn, "missing"))
    show("HEAD missing bucket", mr("HEAD", "no-such-bucket-x", ""))
    show("GET missing bucket", mr("GET", "no-such-bucket-x", ""))
    show("HEAD bucket", mr("HEAD", bn, ""))
    show("HEAD existing key", mr("HEAD", bn, "two"))
    show("GET range past end", mr("GET", bn, "two", headers={"Range": "bytes=5-9"}))
    show("ListObjects v1", mr("GET", bn, "", query_args="prefix=&delimiter=/"))
    show("ListObjectsV2", mr("GET", bn, "", query_args="list-type=2&delimiter=/"))
    show("DELETE missing key", mr("DELETE", bn, "missing"))
    show("DELETE non-empty bucket", mr("DELETE", bn, ""))
    show("GET copy-source missing (copy)",
         mr("PUT", bn, "copy", headers={"x-amz-copy-source": "/%s/missing" % bn}))
    show("PUT copy ok",
         mr("PUT", bn, "copy", headers={"x-amz-copy-source": "/%s/two" % bn}))

    # Multipart: two parts (first >= 5 MiB), complete, show raw response.
    mp = b.initiate_multipart_upload("mp")
    import io
    mp.upload_part_from_file(io.BytesIO(b"a" * (5 * 1024 * 1024)), 1)
    mp.upload_part_from_file(io.BytesIO(b"b" * 10), 2)
    parts = "".join(
        "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>" % (p.part_number, p.etag)
        for p in mp.get_all_parts())
    xml = "<CompleteMultipartUpload>%s</CompleteMultipartUpload>" % parts
    show("CompleteMultipartUpload", mr("POST", bn, "mp", query_args="uploadId=" + mp.id, data=xml))
    show("HEAD multipart object", mr("HEAD", bn, "mp"))
    # Complete again (upload no longer exists).
    show("CompleteMultipartUpload again", mr("POST", bn, "mp", query_args="uploadId=" + mp.id, data=xml))

    bad = boto.connect_s3(aws_access_key_id=c.aws_access_key_id, aws_secret_access_key="wrong",
                          host=c.host, port=c.port, is_secure=False,
                          calling_format=boto.s3.connection.OrdinaryCallingFormat())
    show("GET with wrong secret", bad.make_request("GET", bn, "two"))


if __name__ == "__main__":
    sys.exit(main())
