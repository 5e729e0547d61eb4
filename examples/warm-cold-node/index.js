// The seed's warm/cold start test, unchanged: a global set by the first invocation of
// an execution environment, seen by every later one (runtime nodejs18.x or later).
let isWarmStart = false;

exports.handler = async () => {
  let message;
 
  if (isWarmStart) {
    message = "warm start";
  } else {
    message = "cold start";
    isWarmStart = true;
  }
 
  return {
    statusCode: 200,
    body: JSON.stringify({ message }),
  };
};
