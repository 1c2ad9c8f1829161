#!/usr/bin/python3
"""The seed's S3 calls, made with boto 2 as in the field note.

usage: boto_s3.py PORT BUCKET OP [KEY [FILE]]
  OP: lookup-bucket | create-bucket | delete-bucket | put KEY FILE | get KEY FILE | md5 KEY | size KEY |
      exists KEY | delete KEY | uploads | start-upload KEY
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. With BOTO_CA_FILE set, boto
talks HTTPS (is_secure=True) and validates the server's certificate with that CA file; BOTO_HOST
replaces 127.0.0.1 (boto 2 checks a certificate's DNS names only).
"""
import hashlib
import os
import sys

import boto
import boto.s3.connection


def main():
    port, bucket_name, op = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    args = sys.argv[4:]
    ca_file = os.environ.get("BOTO_CA_FILE")
    if ca_file:
        # boto 2 reads these from its config only (BOTO_CONFIG=/dev/null).
        if not boto.config.has_section("Boto"):
            boto.config.add_section("Boto")
        boto.config.set("Boto", "https_validate_certificates", "True")
        boto.config.set("Boto", "ca_certificates_file", ca_file)
    conn = boto.connect_s3(
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        host=os.environ.get("BOTO_HOST", "127.0.0.1"),
        port=port,
        is_secure=bool(ca_file),
        calling_format=boto.s3.connection.OrdinaryCallingFormat(),
    )
    if op == "lookup-bucket":
        print("yes" if conn.lookup(bucket_name) is not None else "no")
        return
    if op == "create-bucket":
        conn.create_bucket(bucket_name)
        return
    if op == "delete-bucket":
        conn.delete_bucket(bucket_name)
        return
    bucket = conn.get_bucket(bucket_name, validate=False)
    if op == "put":
        key = bucket.new_key(args[0])
        key.set_contents_from_filename(args[1])
    elif op == "get":
        bucket.get_key(args[0]).get_contents_to_filename(args[1])
    elif op == "md5":
        print(hashlib.md5(bucket.get_key(args[0]).get_contents_as_string()).hexdigest())
    elif op == "size":
        print(bucket.get_key(args[0]).size)
    elif op == "exists":
        print("yes" if bucket.get_key(args[0]) is not None else "no")
    elif op == "delete":
        bucket.delete_key(args[0])
    elif op == "uploads":
        print(len(bucket.get_all_multipart_uploads()))
    elif op == "start-upload":
        print(bucket.initiate_multipart_upload(args[0]).id)
    else:
        sys.exit("unknown op " + op)


if __name__ == "__main__":
    main()
