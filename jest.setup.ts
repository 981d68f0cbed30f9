// Adds toHaveReceivedCommandWith & co. to expect() for every SDK-boundary test.
import 'aws-sdk-client-mock-jest';
