// The one key pair the test bucket (test/s3-server/server.ts) knows; the tests sign with it, or
// with a wrong secret to see the bucket refuse.
export const S3_ACCESS_KEY_ID = "AKIAAFOROTEST0001";
export const S3_SECRET_ACCESS_KEY = "aforo-test-secret/AbCdEf0123456789xyz";
