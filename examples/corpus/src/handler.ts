export interface Request { path: string; headers: Record<string, string>; }

export function authorize(req: Request): boolean {
  const auth = req.headers['authorization'] ?? '';
  return auth.startsWith('Bearer ') && auth.length > 7;
}
