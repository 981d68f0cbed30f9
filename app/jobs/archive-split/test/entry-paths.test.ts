import { normaliseEntryPath, printablePath, unsafePathReason } from '../entry-paths';

describe('unsafePathReason', () => {
  it.each([
    ['', 'empty path'],
    ['/etc/passwd', 'absolute path'],
    ['\\windows\\system32', 'absolute path'],
    ['C:/x.jpg', 'drive-letter path'],
    ['c:x.jpg', 'drive-letter path'],
    ['a\u0000.jpg', 'NUL character'],
    ['a\n.jpg', 'control character'],
    ['a\u001b[2J.jpg', 'control character'],
    ['a\u0085.jpg', 'control character'],
    ['images\\a.jpg', 'backslash'],
    ['..', '".." segment'],
    ['../x.jpg', '".." segment'],
    ['a/../../x.jpg', '".." segment'],
    ['a/..', '".." segment'],
  ])('refuses %j: %s', (path, reason) => {
    expect(unsafePathReason(path)).toBe(reason);
  });

  it.each(['a.jpg', 'images/a b.jpg', './a.jpg', 'a//b.jpg', 'dir/', '..a/b..jpg', 'ü/Ω.jpg', 'ab:c.jpg', '.hidden'])('accepts %j', (path) => {
    expect(unsafePathReason(path)).toBeUndefined();
  });
});

describe('normaliseEntryPath', () => {
  it.each([
    ['a.jpg', 'a.jpg'],
    ['./a.jpg', 'a.jpg'],
    ['a/./b.jpg', 'a/b.jpg'],
    ['a//b///c.jpg', 'a/b/c.jpg'],
    ['images/', 'images'],
    ['./', ''],
    ['.', ''],
    ['a/.', 'a'],
    ['a/b/./', 'a/b'],
    ['././a', 'a'],
  ])('%j is %j', (path, normalised) => {
    expect(normaliseEntryPath(path)).toBe(normalised);
  });
});

describe('printablePath', () => {
  it('shows control characters as escapes and leaves everything else', () => {
    expect(printablePath('a\u001b[31m\nb\u0000/ü.jpg')).toBe('a\\u001b[31m\\u000ab\\u0000/ü.jpg');
    expect(printablePath('plain/ü.jpg')).toBe('plain/ü.jpg');
  });
});

describe('unsafePathReason on lengths no file system holds', () => {
  it('refuses a path over 4096 bytes of UTF-8 and a name over 255, counting bytes, not characters', () => {
    expect(unsafePathReason(`${'a/'.repeat(2047)}bc`)).toBeUndefined();
    expect(unsafePathReason(`${'a/'.repeat(2048)}b`)).toBe('longer than 4096 bytes');
    // 1366 three-byte characters: 1366 characters, 4098 bytes.
    expect(unsafePathReason('€'.repeat(1366))).toBe('longer than 4096 bytes');
    expect(unsafePathReason(`dir/${'n'.repeat(255)}`)).toBeUndefined();
    expect(unsafePathReason(`dir/${'n'.repeat(256)}`)).toBe('a name longer than 255 bytes');
    expect(unsafePathReason(`dir/${'ü'.repeat(128)}`)).toBe('a name longer than 255 bytes');
  });
});
