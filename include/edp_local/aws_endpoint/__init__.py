"""The local AWS endpoint: the Kinesis stream and the SNS alert topic on loopback."""
