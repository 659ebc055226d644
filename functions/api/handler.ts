// Placeholder written by the local-stack work so the stack can start; the lead replaces it.
export const handler = async () => ({ statusCode: 200, body: '{}' });
